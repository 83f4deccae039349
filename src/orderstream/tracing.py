"""The process's tracer provider: spans get trace ids always, and go to an OTLP/HTTP
collector only when ORDERSTREAM_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) names one."""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACES_PATH = "/v1/traces"


def configure_tracing(endpoint: str | None, service: str) -> TracerProvider:
    """Install the global tracer provider for the process `service` (api, relay, ...);
    the one installed already, if any (it can be installed once per process)."""
    installed = trace.get_tracer_provider()
    if isinstance(installed, TracerProvider):
        return installed
    provider = TracerProvider(resource=Resource.create({"service.name": f"orderstream-{service}"}))
    if endpoint:
        url = endpoint if endpoint.rstrip("/").endswith(TRACES_PATH) else (
            endpoint.rstrip("/") + TRACES_PATH)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    trace.set_tracer_provider(provider)
    return provider
