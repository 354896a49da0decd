"""Channels to other Licentia services: the client library's channels (deadlines,
retries, credentials, TLS), with the service's settings and tracing."""

from __future__ import annotations

import grpc
from opentelemetry.sdk.trace import TracerProvider

from licentia_client.channels import ClientTls, secure_or_plain, service_config
from licentia_client.channels import open_channel as _open_channel
from services.runtime.config import Settings

__all__ = ["ClientTls", "ServiceChannels", "open_channel", "secure_or_plain", "service_config",
           "tls_of"]  # fmt: skip


def tls_of(settings: Settings) -> ClientTls | None:
    """LICENTIA_TLS_CA_FILE (and, for mutual TLS, LICENTIA_TLS_CERT_FILE and
    LICENTIA_TLS_KEY_FILE); None when no CA is set (plaintext)."""
    if settings.tls_ca_file is None:
        return None
    return ClientTls(settings.tls_ca_file, settings.tls_cert_file, settings.tls_key_file)


def open_channel(
    address: str,
    credential: str | None,
    tracer_provider: TracerProvider | None = None,
    timeout_seconds: float = 10.0,
    settings: Settings | None = None,
    tls: ClientTls | None = None,
) -> grpc.Channel:
    """The client library's channel; TLS from `tls`, else from `settings`."""
    if tls is None and settings is not None:
        tls = tls_of(settings)
    return _open_channel(address, credential, tracer_provider, timeout_seconds, tls)


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
