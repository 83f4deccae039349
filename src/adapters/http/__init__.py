"""The HTTP API (FastAPI): place and follow orders, manage stock."""
