"""Tables pruned by age: what a process wrote and nothing needs any more."""

from typing import Protocol


class PrunedTable(Protocol):
    """The rows of one table past their retention: a consumer group's inbox rows older
    than its dedupe window, the idempotency keys that expired.

    One process at a time prunes a table. `prune` takes the table's prune lock for its own
    transaction only, and does nothing when another process holds it: no session is held
    between two calls, and whoever gets the lock prunes the batch.
    """

    @property
    def name(self) -> str:
        """What logs and metrics call the table (`inventory.inbox`)."""
        ...

    async def prune(self, limit: int) -> int | None:
        """Delete up to `limit` of the oldest rows past their retention, in one transaction,
        if this process gets the table's prune lock: how many; None when another process
        holds the lock (it prunes meanwhile)."""
        ...
