"""In-memory adapters: the embedded default, and what domain and application tests use."""
