"""Time-ordered ids: UUID version 7 (RFC 9562) as text, for orders and outbox messages.

The first 48 bits are the Unix time in milliseconds, so ids made later sort later, as text
too (lower-case hex at fixed places). A B-tree keyed by them takes each new id at its right
edge, the few pages there stay in memory however long the table grows, and a range of ids
is a range of time: the audit reads the orders of its window by primary key
(`floor_of`). The other 74 bits are random.
"""

import os
import time

# RFC 9562 variant: the two high bits of the 17th hex digit are 10.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_id() -> str:
    """A UUIDv7 as `str(uuid.UUID(...))` writes it."""
    return new_ids(1)[0]


def new_ids(count: int) -> list[str]:
    """`count` ids of this millisecond, from one read of the system's random source: a
    system call per id costs more than writing the id, the more so under load."""
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    digits = os.urandom(10 * count).hex()
    return [f"{head}{d[:3]}-{_VARIANT[d[3]]}{d[4:7]}-{d[7:19]}"
            for d in (digits[start:start + 20] for start in range(0, 20 * count, 20))]


def floor_of(unix_s: float) -> str:
    """The lowest id made at or after `unix_s`: every id made since sorts at or above it."""
    stamp = f"{max(0, int(unix_s * 1000)):012x}"
    return f"{stamp[:8]}-{stamp[8:]}-0000-0000-000000000000"


def time_of(id_: str) -> float | None:
    """When a UUIDv7 was made (Unix seconds); None for any other id."""
    if len(id_) != 36 or id_[14] != "7":
        return None
    try:
        return int(id_[:8] + id_[9:13], 16) / 1000
    except ValueError:
        return None
