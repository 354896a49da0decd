"""The floor under the gRPC figures: a bare Python gRPC server (no interceptors, no
tracing, no auth, no storage) measured the same way and in the same run as the service
it is printed beside. It answers a health check that does nothing, and StreamUsage by
reading each event's id and answering it ACCEPTED: the least any metering server does.

Run as a module it is that server, on the port given: `python -m bench.grpc_floor PORT`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from licentia.metering.v1 import metering_service_pb2 as metering
from licentia.metering.v1 import metering_service_pb2_grpc as metering_grpc
from licentia.metering.v1 import resources_pb2 as resources

from bench.harness import measure, wait_healthy
from services.runtime.ports import free_port


class _Serving(health_pb2_grpc.HealthServicer):
    def Check(self, request: object, context: object) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class _AcceptEverything(metering_grpc.MeteringServiceServicer):
    def StreamUsage(
        self, requests: Iterator[metering.StreamUsageRequest], context: object
    ) -> Iterator[metering.StreamUsageResponse]:
        for request in requests:
            yield metering.StreamUsageResponse(
                batch_id=request.batch_id,
                results=[
                    resources.EventResult(id=e.id, status=resources.EventResult.STATUS_ACCEPTED)
                    for e in request.events
                ],
            )


class _ClockOnly(grpc.ServerInterceptor):
    """The least per-call Python a runtime could run: read the clock around the call."""

    def __init__(self) -> None:
        self._wrapped: dict[str, Any] = {}

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = self._wrapped.get(details.method)
        if wrapped is None:
            inner = handler.unary_unary

            def timed(request: Any, context: Any) -> Any:
                started = time.perf_counter()
                try:
                    return inner(request, context)
                finally:
                    _ = time.perf_counter() - started

            wrapped = self._wrapped[details.method] = grpc.unary_unary_rpc_method_handler(
                timed, handler.request_deserializer, handler.response_serializer
            )
        return wrapped


def serve(port: int, clock_only: bool = False) -> None:
    server = grpc.server(
        ThreadPoolExecutor(max_workers=16), interceptors=[_ClockOnly()] if clock_only else []
    )
    health_pb2_grpc.add_HealthServicer_to_server(_Serving(), server)
    # Only StreamUsage is served; the stubs' other methods answer UNIMPLEMENTED.
    accept = _AcceptEverything()  # type: ignore[abstract]
    metering_grpc.add_MeteringServiceServicer_to_server(accept, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


async def _measure_health(port: int, label: str, calls: int, callers: tuple[int, ...]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def call(_: int):  # type: ignore[no-untyped-def]
            return stub.Check(health_pb2.HealthCheckRequest())

        await measure(f"{label} (warm-up)", call, 1_000, max(callers))
        for n in callers:
            await measure(label, call, calls, n)


@contextmanager
def bare_servers(count: int, clock_only: bool = False) -> Iterator[list[int]]:
    """`count` bare servers, each its own process; yields their ports. `clock_only`: each
    call wrapped by an interceptor that only reads the clock around it."""
    ports = [free_port() for _ in range(count)]
    extra = ["clock-only"] if clock_only else []
    processes = [
        subprocess.Popen([sys.executable, "-m", "bench.grpc_floor", str(port), *extra])
        for port in ports
    ]
    try:
        for port in ports:
            wait_healthy("bare gRPC server", port)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def measure_floor(calls: int, callers: tuple[int, ...], clock_only: bool = False) -> None:
    """The bare server, measured like the service beside it; `clock_only`: and again
    with the least per-call Python any runtime adds (reading the clock around a call)."""
    with bare_servers(1) as [port]:
        asyncio.run(_measure_health(port, "Floor: a no-op call, bare gRPC server", calls, callers))
    if clock_only:
        label = "Floor: a no-op call, bare gRPC server whose interceptor only reads the clock"
        with bare_servers(1, clock_only=True) as [port]:
            asyncio.run(_measure_health(port, label, calls, callers))


def measure_service_health(port: int, calls: int, callers: tuple[int, ...]) -> None:
    """A health check through the service's own server: every interceptor, no work."""
    label = "Health check through the same server (its interceptors, no work)"
    asyncio.run(_measure_health(port, label, calls, callers))


if __name__ == "__main__":
    serve(int(sys.argv[1]), clock_only=sys.argv[2:] == ["clock-only"])
