"""Channels to other Licentia services: deadlines, retries, tracing, credentials.

Retries and the default deadline come from gRPC's service config, so every stub made
on a channel gets them without per-call code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.sdk.trace import TracerProvider

from services.runtime.config import Settings


def service_config(timeout_seconds: float, max_attempts: int = 4) -> str:
    return json.dumps(
        {
            # Calls spread over every address the name resolves to (a headless Kubernetes
            # Service: one per ready pod); one address behaves as before.
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [
                {
                    "name": [{}],
                    "timeout": f"{timeout_seconds}s",
                    "retryPolicy": {
                        "maxAttempts": max_attempts,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ],
        }
    )


class _BearerCredentials(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <credential>` to every call (works without TLS)."""

    def __init__(self, credential: str) -> None:
        self._header = ("authorization", f"Bearer {credential}")

    def _with_header(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._header]
        return details._replace(metadata=metadata)

    def _intercept(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_header(details), request)

    intercept_unary_unary = _intercept
    intercept_unary_stream = _intercept
    intercept_stream_unary = _intercept
    intercept_stream_stream = _intercept


def open_channel(
    address: str,
    credential: str | None,
    tracer_provider: TracerProvider | None = None,
    timeout_seconds: float = 10.0,
    settings: Settings | None = None,
) -> grpc.Channel:
    options = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(timeout_seconds)),
        ("grpc.max_receive_message_length", 32 * 1024 * 1024),
        ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ]
    if settings is not None and settings.tls_ca_file:
        client_key = settings.tls_key_file.read_bytes() if settings.tls_key_file else None
        client_cert = settings.tls_cert_file.read_bytes() if settings.tls_cert_file else None
        creds = grpc.ssl_channel_credentials(
            settings.tls_ca_file.read_bytes(), client_key, client_cert
        )
        channel = grpc.secure_channel(address, creds, options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    if credential:
        channel = grpc.intercept_channel(channel, _BearerCredentials(credential))
    if tracer_provider is not None:
        channel = intercept_channel(channel, client_interceptor(tracer_provider=tracer_provider))
    return channel


class ServiceChannels:
    """One factory for the channels a service opens to the others."""

    def __init__(self, settings: Settings, tracer_provider: TracerProvider) -> None:
        self._settings = settings
        self._tracer_provider = tracer_provider
        self._channels: dict[str, grpc.Channel] = {}

    def channel(self, service: str) -> grpc.Channel:
        if service not in self._channels:
            self._channels[service] = open_channel(
                self._settings.address_of(service),
                self._settings.service_token,
                self._tracer_provider,
                settings=self._settings,
            )
        return self._channels[service]

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
