"""How failures are classified for the consumer policy."""


class PermanentMessageError(Exception):
    """The message can never be processed (undecodable, unknown type, invalid).

    Retrying cannot help; the consumer policy hands it to its dead-letter seam.
    """


class UndecodableMessage(PermanentMessageError):
    """The bytes are not a message of any known type and version."""


class DroppedWhileParked(PermanentMessageError):
    """An operator dropped a parked message (`orderstream parked drop`): it is dead-lettered
    as a message that fails for good is."""


class TransientError(Exception):
    """A failure that may pass (connection lost, deadlock, timeout): retry the same message."""


class RowsHeld(TransientError):
    """Rows a message needs are held by another transaction: applying it now would wait
    for them (and most likely fail at the lock timeout)."""


class ChangedMeanwhile(TransientError):
    """What a unit of work read without locking changed before it wrote it (another
    transaction wrote a row, or recorded one of its messages): nothing was written, and the
    batch is applied again with locks."""


class CommitRejected(Exception):
    """The transport refused an offset commit because the group rebalanced meanwhile.

    The partitions' new owner starts from the last committed offset, so the messages
    are delivered again and the inbox turns them into no-ops: nothing is lost.
    """


class RequestInFlight(Exception):
    """A request with this idempotency key is being processed right now: try again later."""


class IdempotencyKeyReused(Exception):
    """The idempotency key was used before for a different request."""
