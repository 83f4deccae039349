"""Adapters: the application's ports implemented on PostgreSQL, Kafka, memory, HTTP (FastAPI)
and Prometheus, and the wire format of the events (`codec`, `payloads`)."""
