"""Channels to other Licentia services: deadlines, retries, tracing, credentials.

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


@dataclass(frozen=True)
class ClientTls:
    """How a client speaks TLS: the CA it trusts (None: the system's roots), and for
    mutual TLS the certificate and key it presents."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @staticmethod
    def from_settings(settings: Settings) -> ClientTls | None:
        """LICENTIA_TLS_CA_FILE (and, for mutual TLS, LICENTIA_TLS_CERT_FILE and
        LICENTIA_TLS_KEY_FILE); None when no CA is set (plaintext)."""
        if settings.tls_ca_file is None:
            return None
        return ClientTls(settings.tls_ca_file, settings.tls_cert_file, settings.tls_key_file)

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
    tracer_provider: TracerProvider | None = None,
    timeout_seconds: float = 10.0,
    settings: Settings | None = None,
    tls: ClientTls | None = None,
) -> grpc.Channel:
    """A channel with deadlines, retries and the credential on every call; TLS from
    `tls`, else from the service's `settings` (LICENTIA_TLS_*)."""
    options: list[tuple[str, Any]] = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(timeout_seconds)),
        ("grpc.max_receive_message_length", 32 * 1024 * 1024),
        ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ]
    if tls is None and settings is not None:
        tls = ClientTls.from_settings(settings)
    channel = secure_or_plain(address, tls, options)
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
