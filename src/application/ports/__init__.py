"""Ports: what the application needs from the outside, as structural types, one module per
concern."""
