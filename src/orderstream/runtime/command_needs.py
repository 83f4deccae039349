"""The commands that work on one choice of adapters only (a store, a transport), and the
check that refuses them at start on another."""

from dataclasses import dataclass

from orderstream.runtime.failures import ConfigurationError
from orderstream.runtime.settings import Settings


@dataclass(frozen=True, slots=True)
class Needs:
    """The store or transport (None: any) a command works on, and why."""

    because: str
    store: str | None = None
    transport: str | None = None


# The commands that cannot work on every choice of adapters.
NEEDS = {
    "orderstream relay": Needs("it moves the PostgreSQL outboxes to Kafka",
                               store="postgres", transport="kafka"),
    "orderstream worker": Needs("the memory bus lives inside one process (orderstream demo)",
                                transport="kafka"),
    "orderstream dlq": Needs("the memory bus lives inside one process", transport="kafka"),
    "orderstream parked": Needs("the memory store lives inside one process",
                                store="postgres"),
    "orderstream parked drop": Needs("dropped messages go to the dead-letter topics",
                                     store="postgres", transport="kafka"),
}


def require(settings: Settings, command: str) -> None:
    """Refuse at start (exit 2) a command of NEEDS on adapters it cannot work on, naming
    the settings it needs."""
    needs = NEEDS[command]
    needed = {"store": needs.store, "transport": needs.transport}
    chosen = {"store": settings.store, "transport": settings.transport}
    if all(value is None or chosen[name] == value for name, value in needed.items()):
        return
    wanted = " and ".join(f"ORDERSTREAM_{name.upper()}={value}"
                          for name, value in needed.items() if value is not None)
    raise ConfigurationError(f"{command} needs {wanted} (now store={settings.store}, "
                             f"transport={settings.transport}): {needs.because}")
