"""The prose of `contracts/asyncapi.yaml`: what each topic, event and operation is for."""

from adapters.codec import INVENTORY_TOPIC, ORDERS_TOPIC

DESCRIPTION = """\
The events of orderstream's two bounded contexts, orders and inventory, on Kafka.

Every message follows the CloudEvents Kafka protocol binding in binary mode: the key is the
order id, the value is the event's data as a JSON object, and the CloudEvents attributes are
headers (`ce_id`, `ce_type`, `ce_source`, `ce_specversion`, `ce_time`, `content-type`).
`ce_type` is `orderstream.<topic>.<EventType>.<version>`: a consumer picks the payload model
by it, and refuses a type or version it does not know (to the dead-letter topic).

Versions evolve by adding optional fields only; a breaking change is a new version. Every
released version keeps its schema file and a recorded example in `contracts/`, and the test
suite decodes every recorded example with the current code (see docs/contracts.md).

Topic names are the defaults; ORDERSTREAM_ORDERS_TOPIC and ORDERSTREAM_INVENTORY_TOPIC
rename them, and each dead-letter topic is its topic's name plus `.dlt`.
"""

TOPICS = {
    ORDERS_TOPIC: "The orders outbox, published by the orders relay: what happened to orders.",
    INVENTORY_TOPIC: "The inventory outbox, published by the inventory relay: the outcome of "
                     "each reservation.",
}

DEAD_LETTERS = (
    "Messages of `{topic}` that a consumer could never process (undecodable, of an unknown type "
    "or version, invalid, or refused by the domain), with the original key, value and headers "
    "and `dlt_*` headers saying where they came from and why. `orderstream dlq` lists, shows "
    "and replays them."
)

EVENTS = {
    "OrderPlaced": "An order was placed and is pending; inventory reserves all its lines or "
                   "none.",
    "OrderConfirmed": "Every line of the order was reserved: the order is confirmed.",
    "OrderRejected": "The order was rejected, with the reason (from v2 also the lines that "
                     "could not be reserved, when known).",
    "StockReserved": "Inventory reserved every line of the order.",
    "StockRejected": "Inventory reserved nothing for the order: the reason, and why for each "
                     "line (out_of_stock with what was available, or unknown_sku).",
    "OrderCancelled": "The order was cancelled (it was pending or confirmed): who cancelled "
                      "it, why, and its lines, so inventory knows which stock to lock.",
    "StockReleased": "Inventory holds nothing more for the cancelled order: the lines that "
                     "went back to available stock, none when nothing was held. Sent once "
                     "per OrderCancelled.",
}

OPERATIONS = {
    "publishOrderEvents": (
        "send", ORDERS_TOPIC,
        "The orders relay publishes the orders outbox in commit order, keyed by order id, "
        "marking a row published only once the broker acknowledged it (acks=all, "
        "idempotent). `orderstream dlq replay` sends dead letters back here too."),
    "reserveStock": (
        "receive", ORDERS_TOPIC,
        "The inventory worker (group `inventory`) reserves stock for each OrderPlaced and "
        "releases it for each OrderCancelled, in one transaction with its inbox row and "
        "outbox, then commits the offset; it skips the other types."),
    "publishInventoryEvents": (
        "send", INVENTORY_TOPIC,
        "The inventory relay publishes the inventory outbox, keyed by order id."),
    "settleOrders": (
        "receive", INVENTORY_TOPIC,
        "The orders worker (group `orders`) confirms or rejects each order (a cancelled one "
        "stays cancelled) and notes when the stock of a cancelled order is released."),
    "deadLetterOrderEvents": (
        "send", f"{ORDERS_TOPIC}.dlt",
        "The inventory worker dead-letters a message of `orders` it can never process, before "
        "committing its offset."),
    "deadLetterInventoryEvents": (
        "send", f"{INVENTORY_TOPIC}.dlt",
        "The orders worker dead-letters a message of `inventory` it can never process, before "
        "committing its offset."),
    "inspectOrderDeadLetters": (
        "receive", f"{ORDERS_TOPIC}.dlt",
        "`orderstream dlq list|show|replay --topic orders.dlt` reads them, joining no group."),
    "inspectInventoryDeadLetters": (
        "receive", f"{INVENTORY_TOPIC}.dlt",
        "`orderstream dlq list|show|replay --topic inventory.dlt` reads them, joining no group."),
}
