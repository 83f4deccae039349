"""How failures are classified for the consumer policy."""


class PermanentMessageError(Exception):
    """The message can never be processed (undecodable, unknown type, invalid).

    Retrying cannot help; the consumer policy hands it to its dead-letter seam.
    """


class UndecodableMessage(PermanentMessageError):
    """The bytes are not a message of any known type and version."""


class TransientError(Exception):
    """A failure that may pass (connection lost, deadlock, timeout): retry the same message."""
