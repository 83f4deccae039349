"""The FastAPI application: routes, problem documents, request limits."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from adapters.http import orders, problems, stock
from adapters.http.limits import RequestLimits
from adapters.http.services import ApiServices

ServicesProvider = Callable[[], AbstractAsyncContextManager[ApiServices]]


def create_app(provide: ServicesProvider, *, max_body_bytes: int = 65_536) -> FastAPI:
    """The API; `provide()` opens the services when the app starts and closes them at stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with provide() as services:
            app.state.services = services
            yield

    app = FastAPI(
        title="orderstream",
        summary="Place and follow orders; manage stock.",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    problems.install(app)
    app.include_router(orders.router)
    app.include_router(stock.router)
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes)
    app.add_middleware(problems.ServerErrors)
    return app
