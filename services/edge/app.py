"""Wiring: the edge's license server (Starlette on uvicorn) over the catalog's and
licensing's gRPC contracts. No database: everything durable lives in the services."""

from __future__ import annotations

import logging
from types import FrameType

import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette

from services.edge.adapters.upstream import CatalogClient, LicensingClient
from services.edge.entrypoints.http import build_http_app
from services.edge.service_layer.license_server import LicenseServer
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings

NAME = "edge"
log = logging.getLogger("licentia.edge")


def build_app(settings: Settings, tracer_provider: TracerProvider | None = None) -> Starlette:
    channels = ServiceChannels(settings, tracer_provider or TracerProvider())
    server = LicenseServer(
        CatalogClient(channels.channel("catalog")),
        LicensingClient(channels.channel("licensing")),
        settings.public_url_of_edge(),
        settings.edge_token_ttl_seconds,
    )
    return build_http_app(server, on_shutdown=channels.close)


def serve(settings: Settings, tracer_provider: TracerProvider, port: int | None = None) -> None:
    """Run until SIGTERM or SIGINT (uvicorn drains in-flight requests for the grace)."""
    app = build_app(settings, tracer_provider)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port or settings.port_of(NAME),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or 1,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
    )
    log.info("edge listening on %s:%s", config.host, config.port)
    _DrainingServer(config).run()


class _DrainingServer(uvicorn.Server):
    """Exits 0 after a SIGTERM drain, as the gRPC services do: uvicorn re-raises the
    signal once it has shut down, which would make a clean stop look like a kill."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()
