"""The Kafka headers and key of orderstream's messages, as AsyncAPI schemas (JSON Schema
draft-07, every value UTF-8 text): CloudEvents (binary mode), replay and dead-letter headers."""

from typing import Any

from adapters import dead_letters
from adapters.codec import CONTENT_TYPE, SPEC_VERSION
from adapters.dead_letter_redrive import REPLAY_COUNT, REPLAY_SOURCE
from adapters.dead_letters import MAX_ERROR_MESSAGE_BYTES
from adapters.fields import VISIBLE_TEXT_PATTERN
from domain.values import MAX_ID_LENGTH

Schema = dict[str, Any]

_DECIMAL = {"type": "string", "pattern": "^[0-9]+$"}
_TIME = {"type": "string", "format": "date-time"}
_IDENTIFIER = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH,
               "pattern": VISIBLE_TEXT_PATTERN}

ORDER_ID: Schema = {**_IDENTIFIER,
                    "description": "The order id, UTF-8: every event of one order has the "
                                   "same key, so they stay in order on one partition."}

CLOUD_EVENTS: dict[str, Schema] = {
    "ce_id": {**_IDENTIFIER,
              "description": "The id of the outbox row: consumers record it in their inbox, "
                             "so a message delivered twice is applied once."},
    "ce_type": {"type": "string", "description": "`orderstream.<topic>.<EventType>.<version>`"},
    "ce_source": {"type": "string", "description": "`/orderstream/<topic>`"},
    "ce_specversion": {"type": "string", "const": SPEC_VERSION},
    "ce_time": {**_TIME, "description": "When the event happened (ISO 8601 with offset)."},
    "content-type": {"type": "string", "const": CONTENT_TYPE},
}

REPLAY: dict[str, Schema] = {
    REPLAY_COUNT: {"type": "string", "pattern": "^[1-9][0-9]*$",
                   "description": "Set by `orderstream dlq replay`: how many times this message "
                                  "went from a dead-letter topic back to its origin."},
    REPLAY_SOURCE: {"type": "string",
                    "description": "Set by `orderstream dlq replay`: the dead letter it was "
                                   "replayed from, `<dead-letter topic>/<partition>/<offset>`."},
}

DEAD_LETTER: dict[str, Schema] = {
    dead_letters.ORIGIN_TOPIC: {"type": "string",
                                "description": "The topic the message was consumed from."},
    dead_letters.ORIGIN_PARTITION: {**_DECIMAL, "description": "Its partition."},
    dead_letters.ORIGIN_OFFSET: {**_DECIMAL, "description": "Its offset."},
    dead_letters.CONSUMER_GROUP: {"type": "string",
                                  "description": "The consumer group that failed it."},
    dead_letters.ERROR_CLASS: {"type": "string",
                               "description": "Module and qualified name of the exception, "
                                              "e.g. `application.errors.UndecodableMessage`."},
    dead_letters.ERROR_MESSAGE: {"type": "string",
                                 "description": "The exception's text, cut to "
                                                f"{MAX_ERROR_MESSAGE_BYTES} bytes."},
    dead_letters.TIME: {**_TIME, "description": "When it was dead-lettered."},
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def event_headers(ce_type: str, topic: str) -> Schema:
    """The headers of one event type and version on `topic`."""
    properties = {name: _ref(name) for name in (*CLOUD_EVENTS, *REPLAY)}
    properties["ce_type"] = {**CLOUD_EVENTS["ce_type"], "const": ce_type}
    properties["ce_source"] = {**CLOUD_EVENTS["ce_source"], "const": f"/orderstream/{topic}"}
    return {"type": "object", "required": list(CLOUD_EVENTS), "properties": properties}


def dead_letter_headers() -> Schema:
    """The original's headers, as they were (possibly none of them), then the dead letter's."""
    names = (*CLOUD_EVENTS, *REPLAY, *DEAD_LETTER)
    return {"type": "object", "required": list(DEAD_LETTER),
            "properties": {name: _ref(name) for name in names}}


def header_schemas() -> dict[str, Schema]:
    return {"OrderId": ORDER_ID, **CLOUD_EVENTS, **REPLAY, **DEAD_LETTER}
