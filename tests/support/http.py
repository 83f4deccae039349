"""An HTTP client that does what the API asks of its clients when it sheds load: a 503
with `Retry-After` is sent again after that long, as a well-behaved client would."""

import asyncio

import httpx

MAX_ATTEMPTS = 30


class RetryAfterOverload(httpx.AsyncBaseTransport):
    """httpx's transport, sending a request again while the answer is 503 overloaded."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(MAX_ATTEMPTS - 1):
            response = await self._inner.handle_async_request(request)
            if response.status_code != 503 or "retry-after" not in response.headers:
                return response
            await response.aread()
            await response.aclose()
            await asyncio.sleep(float(response.headers["retry-after"]))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def client(base_url: str, **options) -> httpx.AsyncClient:
    """An async client of `base_url` that honours `Retry-After` on 503."""
    return httpx.AsyncClient(base_url=base_url, transport=RetryAfterOverload(), **options)
