"""Log lines are JSON objects that say which message, order and trace they are about, and
never carry a secret."""

import io
import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from application.context import handling
from application.messages import InboundMessage, OutboxMessage
from orderstream.runtime import logs

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def lines():
    """What the root logger writes, as parsed lines, with `configure` undone afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.configure("INFO", secrets=["canary-s3cret", "p@ss\"word"], stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_a_line_about_an_inbound_message_names_its_position_ids_and_trace(lines):
    message = InboundMessage(topic="orders", partition=2, offset=41, key=b"order-7",
                             value=b"{}", headers=(("ce_id", b"m-1"),
                                                   ("traceparent", TRACEPARENT.encode())))
    with handling(message):
        logging.getLogger("test").warning("permanent failure")
    (line,) = lines()
    assert line["message"] == "permanent failure"
    assert line["level"] == "warning"
    assert {k: line[k] for k in ("topic", "partition", "offset", "message_id", "order_id",
                                 "trace_id")} == {
        "topic": "orders", "partition": 2, "offset": 41, "message_id": "m-1",
        "order_id": "order-7", "trace_id": TRACE_ID}


def test_a_line_about_an_outbox_message_names_its_ids_and_trace(lines):
    message = OutboxMessage(id="m-2", topic="inventory", key="order-8", type="StockReserved",
                            payload=b"{}", headers={"traceparent": TRACEPARENT},
                            created_at=None)  # type: ignore[arg-type]
    with handling(message):
        logging.getLogger("test").error("refused")
    (line,) = lines()
    assert (line["message_id"], line["order_id"], line["topic"], line["trace_id"]) == (
        "m-2", "order-8", "inventory", TRACE_ID)


def test_a_line_inside_a_span_carries_its_trace_id(lines):
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        logging.getLogger("test").info("inside")
    (line,) = lines()
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_a_line_about_nothing_in_particular_has_only_the_basics(lines):
    logging.getLogger("test").info("started")
    (line,) = lines()
    assert set(line) == {"time", "level", "logger", "message"}
    assert trace.get_current_span().get_span_context().is_valid is False


def test_secrets_are_masked_in_messages_and_tracebacks(lines):
    try:
        raise ValueError('cannot log in with p@ss"word')
    except ValueError:
        logging.getLogger("test").exception("connect to postgresql://u:canary-s3cret@h/d")
    (line,) = lines()
    text = json.dumps(line)
    assert "canary-s3cret" not in text and 'p@ss"word' not in text and "p@ss" not in text
    assert "postgresql://u:***@h/d" in line["message"]


def test_kafka_and_sql_loggers_never_go_below_info_and_warning(lines):
    logs.configure("DEBUG", stream=io.StringIO())
    assert logging.getLogger("aiokafka").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("sqlalchemy").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() == logging.WARNING
