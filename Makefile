# The two commands of the README: `make demo` and `make test`.
# Both install uv (pinned) when it is missing and Python packages from uv.lock.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# Byte-compile once at install: the tests start many processes, and a machine that sets
# PYTHONDONTWRITEBYTECODE would otherwise compile every module at every start.
export UV_COMPILE_BYTECODE := 1

.PHONY: demo test lint uv bytecode
uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.9"

bytecode: uv
	@$(UV) run --frozen python -m compileall -q src >/dev/null

demo: uv
	$(UV) run --frozen orderstream demo

test: bytecode
	$(UV) run --frozen pytest

lint: uv
	$(UV) run --frozen ruff check src tests
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
