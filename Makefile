# The two commands of the README: `make demo` and `make test`.
# Both install uv (pinned) when it is missing and Python packages from uv.lock.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# Byte-compile once at install: the tests start many processes, and a machine that sets
# PYTHONDONTWRITEBYTECODE would otherwise compile every module at every start.
export UV_COMPILE_BYTECODE := 1

ASYNCAPI_TOOL := tools/asyncapi

.PHONY: demo test lint uv bytecode asyncapi
uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.9"

bytecode: uv
	@$(UV) run --frozen python -m compileall -q src dev/src >/dev/null

demo: uv
	$(UV) run --frozen orderstream demo

test: bytecode $(ASYNCAPI_TOOL)/node_modules/.package-lock.json
	$(UV) run --frozen pytest

# The AsyncAPI validator (npm, pinned by its package-lock.json), installed when npm is there;
# without it the tests that need it are skipped (they fail under ORDERSTREAM_REQUIRE_INFRA=1).
$(ASYNCAPI_TOOL)/node_modules/.package-lock.json: $(ASYNCAPI_TOOL)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --ignore-scripts --no-audit --no-fund --prefix $(ASYNCAPI_TOOL); \
	else echo "npm not found: the AsyncAPI validation tests will be skipped"; fi

asyncapi: $(ASYNCAPI_TOOL)/node_modules/.package-lock.json
	node $(ASYNCAPI_TOOL)/validate.js contracts/asyncapi.yaml

lint: uv
	$(UV) run --frozen ruff check src dev/src tests
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
