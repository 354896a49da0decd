"""The one place that builds a gRPC server for any service.

`create_server` is separate from `serve` so tests run the real server in process;
`serve` adds signal handling for graceful shutdown.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.sdk.trace import TracerProvider

from services.runtime import metrics
from services.runtime.authentication import Authenticator
from services.runtime.config import Settings
from services.runtime.interceptors import RuntimeInterceptor
from services.runtime.rate_limit import RateLimiter

log = logging.getLogger("licentia.server")
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass
class ServiceApp:
    """What a service hands the runtime: its gRPC services and its lifecycle hooks."""

    name: str
    grpc_service_names: tuple[str, ...]
    register: Callable[[grpc.Server], None]
    authenticator: Authenticator
    # Started after the server starts; stopped after it drains, last first: list what a
    # hook needs before the hook (the database, the channels, then the relay using them).
    on_start: list[Callable[[], None]] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    # Full method names (`/pkg.Service/Method`) anyone may call without credentials.
    public_methods: frozenset[str] = frozenset()
    # The service's own gauges, read when Prometheus scrapes: name -> (help, read).
    gauges: dict[str, tuple[str, Callable[[], float]]] = field(default_factory=dict)


class RunningServer:
    def __init__(
        self,
        app: ServiceApp,
        server: grpc.Server,
        health_servicer: health.HealthServicer,
        port: int,
        grace_seconds: float,
        tracer_provider: TracerProvider,
        metrics_address: tuple[str, int] | None = None,
    ) -> None:
        self.app = app
        self._metrics_address = metrics_address
        self._metrics_server: Any = None
        self.port = port
        self._server = server
        self._health = health_servicer
        self._grace = grace_seconds
        self._tracer_provider = tracer_provider
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def start(self) -> RunningServer:
        for name, (documentation, read) in self.app.gauges.items():
            metrics.gauge(name, documentation, self.app.name, read)
        if self._metrics_address is not None:
            host, port = self._metrics_address
            self._metrics_server = metrics.serve_metrics(port, host)
        self._server.start()
        for hook in self.app.on_start:
            hook()
        # What start-up built lives as long as the process: move it out of the cyclic
        # collector's view, so full collections stay short and do not show in latency.
        gc.collect()
        gc.freeze()
        log.info("%s serving on port %d", self.app.name, self.port)
        return self

    def stop(self, grace_seconds: float | None = None) -> None:
        """Stop taking calls, let in-flight ones finish, then release resources."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            # Probes see NOT_SERVING at once, so load balancers stop routing here.
            self._health.enter_graceful_shutdown()
            grace = self._grace if grace_seconds is None else grace_seconds
            self._server.stop(grace).wait()
            for hook in reversed(self.app.on_stop):
                try:
                    hook()
                except Exception:
                    log.exception("shutdown hook failed")
            self._tracer_provider.shutdown()
            metrics.forget_gauges(self.app.gauges, self.app.name)
            if self._metrics_server is not None:
                self._metrics_server.shutdown()
            self._stopped.set()
            log.info("%s stopped", self.app.name)

    def wait(self) -> None:
        self._stopped.wait()


def create_server(
    settings: Settings,
    app: ServiceApp,
    tracer_provider: TracerProvider,
    port: int | None = None,
) -> RunningServer:
    """Build (but do not start) the server; port 0 picks a free port."""
    interceptors = [
        RuntimeInterceptor(
            app.name,
            app.authenticator,
            RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
            tracer_provider,
            app.public_methods,
        )
    ]
    server = grpc.server(
        ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix=app.name),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Without this a second server silently shares the port with the first.
            ("grpc.so_reuseport", 0),
        ],
    )
    app.register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *app.grpc_service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (
            *app.grpc_service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    address = f"{settings.host}:{settings.port_of(app.name) if port is None else port}"
    bound = (
        server.add_secure_port(address, _server_credentials(settings))
        if settings.tls_cert_file
        else server.add_insecure_port(address)
    )
    metrics_address = (
        (settings.host, settings.metrics_port) if settings.metrics_port is not None else None
    )
    return RunningServer(
        app,
        server,
        health_servicer,
        bound,
        settings.shutdown_grace_seconds,
        tracer_provider,
        metrics_address,
    )


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    if not settings.tls_cert_file or not settings.tls_key_file:
        raise ValueError("TLS needs both LICENTIA_TLS_CERT_FILE and LICENTIA_TLS_KEY_FILE")
    client_ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def serve(running: RunningServer) -> None:
    """Run until SIGTERM or SIGINT, then drain gracefully."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; draining", signal.Signals(signum).name)
        threading.Thread(target=running.stop, name="shutdown").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running.start()
    running.wait()
