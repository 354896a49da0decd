"""The HTTP components' server: an ASGI app on uvicorn, with the services' TLS settings,
no access log (a request's Authorization header is never written anywhere), and a
SIGTERM drain that exits 0 as the gRPC services do."""

from __future__ import annotations

import logging
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from services.runtime.config import Settings


def serve_http(app: ASGIApp, settings: Settings, name: str, port: int | None = None) -> None:
    """Run until SIGTERM or SIGINT (uvicorn drains in-flight requests for the grace)."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port or settings.port_of(name),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or 1,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
    )
    logging.getLogger(f"licentia.{name}").info(
        "%s listening on %s:%s", name, config.host, config.port
    )
    _DrainingServer(config).run()


class _DrainingServer(uvicorn.Server):
    """Exits 0 after a SIGTERM drain, as the gRPC services do: uvicorn re-raises the
    signal once it has shut down, which would make a clean stop look like a kill."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()
