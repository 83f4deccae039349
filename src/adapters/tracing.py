"""W3C trace context (`traceparent`, `tracestate`) on messages, with OpenTelemetry's
propagator: read from a message's headers, written into an outbox row's headers.

An event with no message behind it (an HTTP request's) takes the current OpenTelemetry
context, injected by the propagator. An event a message caused (see
`application.context.cause_of`) takes that message's trace headers as they came, as the
relay copies a row's headers to the broker: no span is started per message, so the
message's context is the one to pass on, and the propagator's extract-then-inject would
cost the hot path ten microseconds a message to write the same header. The propagator
reads a message's context where it is needed: a log line's trace id. Rows, and so Kafka
records, carry nothing when there is no trace.
"""

from opentelemetry.context import Context
from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from application.context import Message, cause_of
from application.messages import InboundMessage

PROPAGATOR = TraceContextTextMapPropagator()
FIELDS = frozenset(PROPAGATOR.fields)


def carrier(message: Message) -> dict[str, str]:
    """The trace headers of `message`, as text (undecodable ones are left out)."""
    if not isinstance(message, InboundMessage):
        return {name: value for name, value in message.headers.items() if name in FIELDS}
    found: dict[str, str] = {}
    for name, value in message.headers:
        if name in FIELDS and value is not None:
            try:
                found[name] = value.decode()
            except UnicodeDecodeError:
                continue
    return found


def context_of(message: Message) -> Context:
    """The trace context `message` carries (empty when it carries none, or an invalid one)."""
    return PROPAGATOR.extract(carrier(message))


def trace_headers(key: str) -> dict[str, str]:
    """The trace headers of an outbox row about `key`."""
    cause = cause_of(key)
    if cause is not None:
        return carrier(cause)
    headers: dict[str, str] = {}
    PROPAGATOR.inject(headers)
    return headers


def trace_id_of(message: Message | None) -> str | None:
    """The trace id (32 hex digits) of `message`, else of the current span; None without one."""
    span = get_current_span(None if message is None else context_of(message))
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None

