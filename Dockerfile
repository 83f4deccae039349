# The orderstream processes (api, relay, workers, migrations) from uv.lock, without dev tools.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN uv sync --frozen --no-dev

RUN useradd --system --no-create-home orderstream
USER orderstream

EXPOSE 8000 9000
CMD ["orderstream", "serve", "--host", "0.0.0.0", "--port", "8000"]
