"""An OTLP/gRPC trace endpoint in this process: the demo and the end-to-end tests point
every service's LICENTIA_OTLP_ENDPOINT here, then read one request's spans back as a
tree across the services it crossed."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def milliseconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass
class SpanNode:
    span: ReceivedSpan
    children: list[SpanNode] = field(default_factory=list)


class TraceReceiver(otlp_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1; returns the endpoint to configure (`http://host:port`)."""
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        otlp_grpc.add_TraceServiceServicer_to_server(self, self._server)
        bound = self._server.add_insecure_port(f"127.0.0.1:{port}")
        self._server.start()
        return f"http://127.0.0.1:{bound}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0)

    def Export(
        self, request: otlp.ExportTraceServiceRequest, context: Any
    ) -> otlp.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "?",
            )
            for scope in resource_spans.scope_spans:
                for s in scope.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(),
                            name=s.name,
                            service=service,
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in s.attributes},
                        )
                    )
        with self._lock:
            self._spans += received
        return otlp.ExportTraceServiceResponse()

    def spans(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self._spans if s.trace_id == trace_id]

    def wait_for(
        self, trace_id: str, services: set[str], timeout_seconds: float = 15.0
    ) -> list[ReceivedSpan]:
        """The trace's spans once every named service has exported some (or the timeout),
        plus a short pause for stragglers from the same batch."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if services <= {s.service for s in self.spans(trace_id)}:
                time.sleep(0.5)
                break
            time.sleep(0.1)
        return self.spans(trace_id)

    def tree(self, trace_id: str) -> list[SpanNode]:
        """The trace's root spans, each with its children in start order."""
        spans = sorted(self.spans(trace_id), key=lambda s: s.start_ns)
        nodes = {s.span_id: SpanNode(s) for s in spans}
        roots: list[SpanNode] = []
        for node in nodes.values():
            parent = nodes.get(node.span.parent_id)
            (parent.children if parent else roots).append(node)
        return roots


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
