"""The process's tracer provider: spans get trace ids always, and go to an OTLP/HTTP
collector only when ORDERSTREAM_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) names one.

Without a collector nothing would read a span's attributes and timings, so spans are not
recorded (a span that records costs its request tens of microseconds): they still carry
their trace and span ids, which logs quote and messages pass on, unless the caller's
`traceparent` asks for its trace to be sampled.
"""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

TRACES_PATH = "/v1/traces"


def configure_tracing(endpoint: str | None, service: str) -> TracerProvider:
    """Install the global tracer provider for the process `service` (api, relay, ...);
    the one installed already, if any (it can be installed once per process)."""
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):
        return installed
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"orderstream-{service}"}),
        sampler=ParentBased(root=ALWAYS_ON if endpoint else ALWAYS_OFF))
    if endpoint:
        url = endpoint if endpoint.rstrip("/").endswith(TRACES_PATH) else (
            endpoint.rstrip("/") + TRACES_PATH)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    trace.set_tracer_provider(provider)
    return provider
