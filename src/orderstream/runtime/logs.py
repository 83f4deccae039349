"""Log lines as JSON objects, one per line, for the long-running processes.

Each line says what it is about when that is known: the message being applied or relayed
(topic, partition, offset, message id, order id) and the trace (the message's, or the
current span's, as in an HTTP request). Secrets the process knows are masked wherever
they appear, tracebacks included.
"""

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from adapters.tracing import trace_id_of
from application.context import Message, current_message
from application.messages import InboundMessage

MASK = "***"
# Never below these, whatever the level: aiokafka's debug lines hold raw requests, and
# SQLAlchemy's info lines hold statements with their parameters (message payloads).
FLOORS = {"aiokafka": logging.INFO, "sqlalchemy": logging.WARNING}


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so that a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._masked(record.getMessage()),
        }
        entry.update(_about(current_message()))
        if record.exc_info:
            entry["error"] = self._masked(self.formatException(record.exc_info))
        return json.dumps(entry)

    def _masked(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def _about(message: Message | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if isinstance(message, InboundMessage):
        fields.update(topic=message.topic, partition=message.partition, offset=message.offset)
        ce_id = next((v for n, v in message.headers if n == "ce_id" and v is not None), None)
        if ce_id is not None:
            fields["message_id"] = ce_id.decode(errors="replace")
        if message.key is not None:
            fields["order_id"] = message.key.decode(errors="replace")
    elif message is not None:
        fields.update(topic=message.topic, message_id=message.id, order_id=message.key)
    trace_id = trace_id_of(message)
    if trace_id is not None:
        fields["trace_id"] = trace_id
    return fields


def configure(level: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """JSON lines to `stream` (stderr) from `level` up, `secrets` masked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name, floor in FLOORS.items():
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), floor))
