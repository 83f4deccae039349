"""The runtime: settings, the container and its wiring, logs, tracing, health, signals,
preflight checks, topics, and the process entry points (API, relay, worker, embedded flow)."""
