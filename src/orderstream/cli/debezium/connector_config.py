"""Debezium's connector for the outboxes, as Kafka Connect takes it: what `orderstream
debezium register` puts for the settings, and `deploy/debezium/orderstream-outbox.json`
for the default ones (`orderstream debezium connector` prints it).

Each record must come out as the relay sends it (docs/kafka.md#debezium): the outbox event
router routes by the `topic` column, keys by `aggregateid` and sends the `payload` column's
text as the value; StringConverters write key, value and headers as their UTF-8 bytes;
orderstream's transform spreads the `headers` column into one header per entry, and Kafka's
DropHeaders drops the `id` header the router adds. Both act on the outboxes' topics only
(a predicate), so nothing else the connector sends is taken for an outbox record.
"""

from sqlalchemy.engine import make_url

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC
from adapters.postgres.debezium_handover import OUTBOXES
from orderstream.runtime.settings import Settings

CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
STRING = "org.apache.kafka.connect.storage.StringConverter"
REGEX_ROUTER = "org.apache.kafka.connect.transforms.RegexRouter"
# Where the deploy file's password comes from: Kafka Connect's FileConfigProvider, declared
# on the worker (deploy/debezium/connect-distributed.properties), reads it from that file.
PASSWORD_FROM_FILE = "${file:/etc/kafka-connect/orderstream.properties:database.password}"


def connector_config(settings: Settings, *, password: str | None = None) -> dict[str, str]:
    """The connector of `settings`' database, slot and topics; its password is `password`,
    or the file placeholder of the deploy file when None."""
    url = make_url(settings.database_url.get_secret_value())
    slot = settings.debezium_slot
    topics = {ORDERS_TOPIC: settings.orders_topic, INVENTORY_TOPIC: settings.inventory_topic}
    renamed = {routed: name for routed, name in topics.items() if name != routed}
    config = {
        "connector.class": CONNECTOR,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": url.host or "localhost",
        "database.port": str(url.port or 5432),
        "database.user": url.username or "",
        "database.password": PASSWORD_FROM_FILE if password is None else password,
        "database.dbname": url.database or "",
        **({"database.sslmode": str(url.query["ssl"])} if "ssl" in url.query else {}),
        "topic.prefix": slot,
        "slot.name": slot,
        "publication.name": slot,
        "publication.autocreate.mode": "disabled",
        "table.include.list": ",".join(f"{schema}.outbox" for schema in OUTBOXES),
        "snapshot.mode": "no_data",
        "tombstones.on.delete": "false",
        "extended.headers.enabled": "false",
        "poll.interval.ms": "100",
        "key.converter": STRING,
        "value.converter": STRING,
        "header.converter": STRING,
        "errors.tolerance": "none",
        "transforms": ",".join(["outbox", *(f"to_{routed}" for routed in renamed), "headers",
                                "router_headers"]),
        "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
        "transforms.outbox.route.by.field": "topic",
        "transforms.outbox.route.topic.replacement": "${routedByValue}",
        "transforms.outbox.table.field.event.id": "id",
        "transforms.outbox.table.field.event.key": "aggregateid",
        "transforms.outbox.table.field.event.payload": "payload",
        "transforms.outbox.table.fields.additional.placement": "headers:header:headers",
        "transforms.outbox.table.expand.json.payload": "false",
    }
    for routed, name in renamed.items():
        config |= {f"transforms.to_{routed}.type": REGEX_ROUTER,
                   f"transforms.to_{routed}.regex": _literal(routed),
                   f"transforms.to_{routed}.replacement": name}
    return config | {
        "transforms.headers.type": "orderstream.connect.OutboxHeaders",
        "transforms.headers.predicate": "outbox_topics",
        "transforms.router_headers.type": "org.apache.kafka.connect.transforms.DropHeaders",
        "transforms.router_headers.headers": "id",
        "transforms.router_headers.predicate": "outbox_topics",
        "predicates": "outbox_topics",
        "predicates.outbox_topics.type":
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.outbox_topics.pattern": "|".join(_literal(name) for name in topics.values()),
    }


def _literal(topic: str) -> str:
    """`topic` as a Java regular expression that matches it alone (topic names are letters,
    digits, `.`, `_` and `-`)."""
    return topic.replace(".", "\\.")
