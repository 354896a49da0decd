"""Wiring: the console's HTTP component (Starlette on uvicorn) — the JSON face of the
five services' contracts and the web console — over the services' gRPC ports. No
database and no credential of its own: every call carries its caller's API key."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.sdk.trace import TracerProvider
from starlette.types import ASGIApp

from services.console.adapters.edge import EdgeAnalytics
from services.console.entrypoints.connect import ConnectFace
from services.console.entrypoints.http import build_http_app
from services.runtime.clients import tls_of
from services.runtime.config import Settings
from services.runtime.http_server import serve_http
from services.runtime.telemetry import build_tracer_provider

NAME = "console"
_OPTIONS = [
    ("grpc.max_receive_message_length", 32 * 1024 * 1024),
    ("grpc.max_send_message_length", 32 * 1024 * 1024),
]


class AsyncChannels:
    """One asyncio channel per service, opened in the server's event loop on first use,
    traced (the caller's span is the parent of the service's)."""

    def __init__(self, settings: Settings, tracer_provider: TracerProvider) -> None:
        self._settings = settings
        self._tracer_provider = tracer_provider
        self._channels: dict[str, grpc.aio.Channel] = {}

    def __call__(self, service: str) -> grpc.aio.Channel:
        channel = self._channels.get(service)
        if channel is None:
            address = self._settings.address_of(service)
            interceptors = aio_client_interceptors(tracer_provider=self._tracer_provider)
            tls = tls_of(self._settings)
            channel = (
                grpc.aio.insecure_channel(address, _OPTIONS, interceptors=interceptors)
                if tls is None
                else grpc.aio.secure_channel(
                    address, tls.credentials(), _OPTIONS, interceptors=interceptors
                )
            )
            self._channels[service] = channel
        return channel

    async def ready(self) -> bool:
        """The catalog (which every sign-in and page asks first) answers SERVING."""
        check = self("catalog").unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        try:
            answer = await check(health_pb2.HealthCheckRequest(), timeout=2.0)
        except grpc.aio.AioRpcError:
            return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def build_app(settings: Settings, tracer_provider: TracerProvider | None = None) -> ASGIApp:
    channels = AsyncChannels(settings, tracer_provider or build_tracer_provider(settings, NAME))
    return build_http_app(
        ConnectFace(channels), channels.ready, EdgeAnalytics(settings), on_shutdown=channels.close
    )


def serve(settings: Settings, tracer_provider: TracerProvider, port: int | None = None) -> None:
    """Run until SIGTERM or SIGINT (uvicorn drains in-flight requests for the grace)."""
    serve_http(build_app(settings, tracer_provider), settings, NAME, port)
