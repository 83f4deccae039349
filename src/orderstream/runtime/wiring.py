"""Build a container from settings and resolve its providers, sync or async alike."""

import inspect
from typing import Any

from dependency_injector import providers

from orderstream.runtime.container import Container
from orderstream.runtime.settings import Settings


def build_container(settings: Settings | None = None) -> Container:
    chosen = settings or Settings()
    container = Container(settings=chosen)
    container.config.from_dict(chosen.revealed())
    return container


async def resolve(provider: providers.Provider[Any], *args: Any, **kwargs: Any) -> Any:
    """A provider's value (called with `args` and `kwargs`); providers that depend on an
    async resource return awaitables."""
    value = provider(*args, **kwargs)
    if inspect.isawaitable(value):
        value = await value
    return value


async def shut_down(container: Container) -> None:
    """Close what the container's resources opened (engines, producers)."""
    shutdown = container.shutdown_resources()
    if shutdown is not None:
        await shutdown
