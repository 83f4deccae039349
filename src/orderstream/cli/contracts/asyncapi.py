"""`contracts/asyncapi.yaml`: the AsyncAPI 3 document of the topics, generated like the schemas.

Payloads reference the generated schema files. AsyncAPI parsers read JSON Schema up to
draft-07, so payloads declare that format: the generated schemas use only keywords that mean
the same in draft-07 and 2020-12 (a test keeps it so), and `$defs` resolve as JSON pointers.
"""

from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

from adapters.codec import TOPIC_OF, ce_type_of
from adapters.dead_letters import dead_letter_topic
from adapters.payloads import MODELS, Payload
from orderstream.cli.contracts.asyncapi_headers import (
    dead_letter_headers,
    event_headers,
    header_schemas,
)
from orderstream.cli.contracts.asyncapi_text import (
    DEAD_LETTERS,
    DESCRIPTION,
    EVENTS,
    OPERATIONS,
    TOPICS,
)

ASYNCAPI_VERSION = "3.0.0"
DRAFT_07 = "application/schema+json;version=draft-07"
KAFKA_BINDING = "0.5.0"

Document = dict[str, Any]
RecordedExample = Mapping[str, Any]


def asyncapi_document(examples: Mapping[str, Sequence[RecordedExample]],
                      models: Sequence[type[Payload]] = MODELS) -> Document:
    """The document of `models`; `examples` are recorded messages (key, headers, value) by
    ce_type."""
    by_topic = {topic: [model for model in models if TOPIC_OF[model.event_type] == topic]
                for topic in TOPICS}
    channels = _channels(by_topic)
    messages = {ce_type_of(model): _message(model, examples.get(ce_type_of(model), ()))
                for model in models}
    messages |= {_dead_letter_id(topic): _dead_letter(topic, by_topic[topic])
                 for topic in TOPICS}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:orderstream:events",
        "info": {"title": "orderstream events", "version": version("orderstream"),
                 "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:19092", "protocol": "kafka",
                              "description": "`orderstream infra up`; elsewhere the address "
                                             "in ORDERSTREAM_KAFKA_BOOTSTRAP_SERVERS."}},
        "channels": channels,
        "operations": _operations(channels),
        "components": {"messages": messages, "schemas": header_schemas()},
    }


def _channels(by_topic: Mapping[str, Sequence[type[Payload]]]) -> Document:
    channels: Document = {}
    for topic, description in TOPICS.items():
        ids = [ce_type_of(model) for model in by_topic[topic]]
        channels[topic] = {"address": topic, "description": description,
                           "messages": {id_: _ref("components/messages", id_) for id_ in ids}}
        dead = dead_letter_topic(topic)
        channels[dead] = {"address": dead, "description": DEAD_LETTERS.format(topic=topic),
                          "messages": {"deadLetter": _ref("components/messages",
                                                          _dead_letter_id(topic))}}
    return channels


def _operations(channels: Document) -> Document:
    operations: Document = {}
    for name, (action, channel, description) in OPERATIONS.items():
        messages = channels[channel]["messages"]
        operations[name] = {"action": action, "channel": _ref("channels", channel),
                            "description": description,
                            "messages": [_ref(f"channels/{channel}/messages", message)
                                         for message in messages]}
    return operations


def _message(model: type[Payload], examples: Sequence[RecordedExample]) -> Document:
    ce_type, topic = ce_type_of(model), TOPIC_OF[model.event_type]
    name = model.event_type.__name__
    return {
        "name": ce_type,
        "title": f"{name} {model.version}",
        "summary": EVENTS[name],
        "contentType": "application/json",
        "headers": event_headers(ce_type, topic),
        "payload": {"schemaFormat": DRAFT_07, "schema": {"$ref": _schema_file(model)}},
        "bindings": {"kafka": {"key": _ref("components/schemas", "OrderId"),
                               "bindingVersion": KAFKA_BINDING}},
        "examples": [{"name": f"recorded-{n}", "summary": f"key {example['key']!r}",
                      "headers": example["headers"], "payload": example["value"]}
                     for n, example in enumerate(examples, start=1)],
    }


def _dead_letter(topic: str, models: Sequence[type[Payload]]) -> Document:
    originals = [{"$ref": _schema_file(model)} for model in models]
    anything = {"description": "anything else: a value that could not be decoded is kept as it "
                               "was, whatever it is"}
    return {
        "name": _dead_letter_id(topic),
        "title": f"A dead letter of {topic}",
        "summary": f"A message of `{topic}` that could never be processed, with where it came "
                   "from and why.",
        "headers": dead_letter_headers(),
        "payload": {"schemaFormat": DRAFT_07,
                    "schema": {"description": "The original value, byte for byte.",
                               "anyOf": [*originals, anything]}},
        "bindings": {"kafka": {"key": _ref("components/schemas", "OrderId"),
                               "bindingVersion": KAFKA_BINDING}},
    }


def _dead_letter_id(topic: str) -> str:
    return f"{topic}.deadLetter"


def _schema_file(model: type[Payload]) -> str:
    return f"./schemas/{ce_type_of(model)}.schema.json"


def _ref(where: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/{where}/{name}"}

