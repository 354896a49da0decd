"""OpenTelemetry tracing: a tracer provider per process, exporting only when asked."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

from services.runtime.config import Settings


def build_tracer_provider(
    settings: Settings, service: str, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Parent-based ratio sampling: a caller's sampled trace is always continued."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"licentia-{service}"}),
        sampler=CallSampler(settings.trace_sample_ratio),
        id_generator=DecidedIds(),
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
    """Emit a client span per SQL statement, under the span of the call (or the
    background work) that sent it, when that span is recorded.

    The instrumentor's `instrument(engine=...)` works once per process; services (and
    tests running several servers) each bring their own engine and provider, so the
    per-engine tracer is attached directly. A statement under a span that is not
    recorded (a call the sampler left out) gets no span of its own: the instrumentation
    would otherwise ask the sampler, read the connection's attributes and build a
    non-recording span for every statement of every call.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    class RecordedOnly(EngineTracer):
        def _before_cur_exec(  # type: ignore[no-untyped-def]
            self, conn, cursor, statement, params, context, executemany
        ):
            if not trace.get_current_span().is_recording():
                return statement, params
            return super()._before_cur_exec(conn, cursor, statement, params, context, executemany)

    usage = get_meter("licentia.database").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    RecordedOnly(provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)


class CallSampler(ParentBased):
    """Parent-based ratio sampling (a caller's decision is followed; a new trace is kept
    with probability `ratio`, by its trace id), its rule readable ahead of any span."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)
        super().__init__(self._ratio)

    def keeps(self, trace_id: int, caller: SpanContext | None) -> bool:
        """What `should_sample` decides for a server span, without building its inputs."""
        if caller is not None:
            return caller.trace_flags.sampled
        return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._ratio.bound


class DecidedIds(RandomIdGenerator):
    """Random ids, except that a trace id drawn to decide sampling ahead of a span is
    the one the span then gets (see ServerSpans). Drawn from the provider's own
    generator, not the `random` module's global one, which belongs to the program (a
    test that seeds it would otherwise see every served call move it)."""

    def __init__(self) -> None:
        self._next = threading.local()
        self._random = random.Random()

    def use_next(self, trace_id: int) -> None:
        self._next.trace_id = trace_id

    def generate_span_id(self) -> int:
        span_id = self._random.getrandbits(64)
        while span_id == trace.INVALID_SPAN_ID:
            span_id = self._random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        trace_id: int | None = getattr(self._next, "trace_id", None)
        if trace_id is None:
            return self.random_trace_id()
        self._next.trace_id = None
        return trace_id

    def random_trace_id(self) -> int:
        trace_id = self._random.getrandbits(128)
        while trace_id == trace.INVALID_TRACE_ID:
            trace_id = self._random.getrandbits(128)
        return trace_id


class ServerSpans:
    """A server span per call, continuing the caller's trace, with the sampling decided
    before any span work.

    The provider's own sampler judges the call first (on the caller's trace context, or
    on a trace id drawn here). Only a call it keeps gets an SDK span, recorded and
    exported as usual, with that same trace id; every other call gets a non-recording
    span that still carries its trace id, so logs and error messages can quote it. The
    SDK would reach the same decisions, but only after building the span's context,
    attributes and sampling inputs for every call."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._tracer = provider.get_tracer("licentia.runtime")
        self._fields = frozenset(propagate.get_global_textmap().fields)
        sampler = getattr(provider, "sampler", None)
        ids = getattr(provider, "id_generator", None)
        # A provider built elsewhere (tests, tools): every call goes to the SDK.
        self._fast = isinstance(sampler, CallSampler) and isinstance(ids, DecidedIds)
        self._sampler = sampler if isinstance(sampler, CallSampler) else CallSampler(1.0)
        self._ids: DecidedIds = ids if isinstance(ids, DecidedIds) else DecidedIds()

    def start(self, name: str, metadata: Mapping[str, str]) -> tuple[Span, Context | None]:
        """The call's span and the context it continues (None: a new trace)."""
        parent = None if self._fields.isdisjoint(metadata) else propagate.extract(metadata)
        if not self._fast:
            return self._tracer.start_span(name, parent, SpanKind.SERVER), parent
        caller = trace.get_current_span(parent).get_span_context() if parent else None
        if caller is not None and caller.is_valid:
            trace_id = caller.trace_id
        else:
            caller, trace_id = None, self._ids.generate_trace_id()
        if self._sampler.keeps(trace_id, caller):
            if caller is None:
                self._ids.use_next(trace_id)
            return self._tracer.start_span(name, parent, SpanKind.SERVER), parent
        context = SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
            trace_state=caller.trace_state if caller is not None else None,
        )
        return NonRecordingSpan(context), parent
