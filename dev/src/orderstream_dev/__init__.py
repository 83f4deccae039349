"""Development tooling of orderstream, installed with `uv sync` and never in the service image:
the bench (`bench`), the local Kafka and PostgreSQL launcher (`infra`) and the chaos runs
(`chaos`)."""
