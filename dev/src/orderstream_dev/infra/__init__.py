"""Local Kafka and PostgreSQL for tests and development, started without Docker.

`orderstream infra up|down|status` drives the modules here; the test fixtures use them too.
"""
