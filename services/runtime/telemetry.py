"""OpenTelemetry tracing: a tracer provider per process, exporting only when asked."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from services.runtime.config import Settings


def build_tracer_provider(
    settings: Settings, service: str, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Parent-based ratio sampling: a caller's sampled trace is always continued."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"licentia-{service}"}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    return provider


def trace_engine(engine: object, provider: TracerProvider) -> None:
    """Emit a client span per SQL statement, under the current RPC's span.

    The instrumentor's `instrument(engine=...)` works once per process; services (and
    tests running several servers) each bring their own engine and provider, so the
    per-engine tracer is attached directly.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("licentia.database").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)
