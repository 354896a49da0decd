"""The floor under every gRPC figure: a bare Python gRPC server (no interceptors, no
tracing, no auth) answering a health check that does nothing, measured the same way
and in the same run as the service it is printed beside.

Run as a module it is that server, on the port given: `python -m bench.grpc_floor PORT`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.harness import measure, wait_healthy
from services.runtime.ports import free_port


class _Serving(health_pb2_grpc.HealthServicer):
    def Check(self, request: object, context: object) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def serve(port: int) -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    health_pb2_grpc.add_HealthServicer_to_server(_Serving(), server)
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


def measure_floor(calls: int, callers: tuple[int, ...]) -> None:
    """The bare server as its own process, measured like the service beside it."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.grpc_floor", str(port)])
    try:
        wait_healthy("bare gRPC server", port)
        asyncio.run(_measure_health(port, "Floor: a no-op call, bare gRPC server", calls, callers))
    finally:
        process.terminate()
        process.wait(10)


def measure_service_health(port: int, calls: int, callers: tuple[int, ...]) -> None:
    """A health check through the service's own server: every interceptor, no work."""
    label = "Health check through the same server (its interceptors, no work)"
    asyncio.run(_measure_health(port, label, calls, callers))


if __name__ == "__main__":
    serve(int(sys.argv[1]))
