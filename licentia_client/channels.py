"""Channels to Licentia's services: deadlines, retries, the API key on every call, TLS.

Retries and the default deadline come from gRPC's service config, so every stub made
on a channel gets them without per-call code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc


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


class BearerCredentials(
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


@dataclass(frozen=True)
class ClientTls:
    """How a client speaks TLS: the CA it trusts (None: the system's roots), and for
    mutual TLS the certificate and key it presents."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("mutual TLS needs both a client certificate and its key")
        return grpc.ssl_channel_credentials(
            _read(self.ca_file), _read(self.key_file), _read(self.cert_file)
        )


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None


def secure_or_plain(
    address: str, tls: ClientTls | None, options: list[tuple[str, Any]] | None = None
) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.credentials(), options=options)


def open_channel(
    address: str,
    credential: str | None,
    tracer_provider: Any = None,
    timeout_seconds: float = 10.0,
    tls: ClientTls | None = None,
) -> grpc.Channel:
    """A channel with deadlines, retries (UNAVAILABLE, by gRPC's own policy) and the
    credential on every call; TLS when `tls` is given. With an OpenTelemetry
    `tracer_provider` (needs opentelemetry-instrumentation-grpc), calls are traced."""
    options: list[tuple[str, Any]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(timeout_seconds)),
        ("grpc.max_receive_message_length", 32 * 1024 * 1024),
        ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ]
    channel = secure_or_plain(address, tls, options)
    if credential:
        channel = grpc.intercept_channel(channel, BearerCredentials(credential))
    if tracer_provider is not None:
        from opentelemetry.instrumentation.grpc import client_interceptor
        from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

        channel = intercept_channel(channel, client_interceptor(tracer_provider=tracer_provider))
    return channel
