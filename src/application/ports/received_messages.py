"""What the store keeps of the messages a worker received: the inbox, the parked messages."""

from collections.abc import Collection, Sequence
from typing import Protocol

from application.parking import ParkedMessage, Parking


class Inbox(Protocol):
    async def record(self, consumer_group: str, message_id: str) -> bool:
        """Record that `consumer_group` processed `message_id` in this transaction.

        Returns False when it was recorded before: the message is a redelivery and its
        effects are already committed, so the caller must do nothing.
        """
        ...

    async def record_all(self, consumer_group: str, message_ids: Collection[str]) -> set[str]:
        """`record` for many ids at once; returns the ids recorded now for the first time."""
        ...

    async def forget(self, consumer_group: str, message_ids: Collection[str]) -> None:
        """Drop ids that this transaction recorded for messages that failed after all,
        so that a redelivery applies them."""
        ...

    async def admit(self, consumer_group: str, message_ids: Collection[str],
                    keys: Collection[str]) -> tuple[set[str], set[str]]:
        """`record_all(message_ids)`, and which of `keys` are parked in the group, in one
        round trip: the ids recorded for the first time, and the parked keys.

        Whether a key is parked is read as the round trip began: a key that a transaction
        committing meanwhile parked (one this round trip waited for, on an id it recorded
        too) is not among them.
        """
        ...


class ParkedMessages(Protocol):
    """Messages parked behind their key, per consumer group, in the unit of work's
    transaction (see `application.parking`).

    A key is parked while it has a message here. Its first message (lowest `seq`) is the
    one retried; the others wait behind it, in arrival order. A transaction that claims a
    key holds it until it ends: one applier per key, whatever the number of workers.
    """

    async def parked_keys(self, consumer_group: str, keys: Collection[str]) -> set[str]:
        """Those of `keys` that are parked."""
        ...

    async def park(self, consumer_group: str, parkings: Sequence[Parking]) -> None:
        """Add the messages in this order, each behind what its key holds already."""
        ...

    async def claim_due(self, consumer_group: str, keys: int) -> list[ParkedMessage]:
        """Every message of up to `keys` keys whose first message is due, each key's in
        arrival order, the keys held for this transaction; a key another transaction
        holds is passed over. Empty when no key is due."""
        ...

    async def claim(self, consumer_group: str, key: str) -> list[ParkedMessage]:
        """Every message of `key`, in arrival order, held for this transaction (waiting
        for a transaction that holds it)."""
        ...

    async def remove(self, consumer_group: str, key: str, seqs: Collection[int]) -> None:
        """Take messages out: applied, dead-lettered or dropped. A key left with none is
        no longer parked."""
        ...

    async def reschedule(self, consumer_group: str, key: str, seq: int, error: str,
                         retry_in_s: float) -> None:
        """The first message of `key` failed once more, with `error`: count the attempt
        and try it again in `retry_in_s`."""
        ...

    async def next_due_in(self, consumer_group: str) -> float | None:
        """Seconds until the first message of a key is due (0 or less: one is due now);
        None when no key is parked."""
        ...
