"""Fixtures and helpers shared by the test suites (loaded as pytest plugins)."""
