# The two commands of the README: `make demo` and `make test`.
# Both install uv (pinned) when it is missing and Python packages from uv.lock.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: demo test lint uv
uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.9"

demo: uv
	$(UV) run --frozen orderstream demo

test: uv
	$(UV) run --frozen pytest

lint: uv
	$(UV) run --frozen ruff check src tests
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
