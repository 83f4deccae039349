"""Parked keys: the workers' parking rule and retry loop (`wiring`), and the
`orderstream parked` command group (`cli`)."""
