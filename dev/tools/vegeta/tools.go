//go:build tools

// Package tools pins vegeta, the open-loop HTTP load generator of `orderstream bench`'s
// flow stage: go.mod and go.sum hold its exact version and every module it is built from.
package tools

import _ "github.com/tsenart/vegeta/v12"
