"""Prometheus metrics: every RPC (count by code, latency) and each service's own gauges
and counters, served over HTTP on LICENTIA_METRICS_PORT when it is set.

Metrics are process-wide with a `service` label, so several servers in one process
(tests) share them without clashing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_REQUESTS = Counter(
    "licentia_rpc_requests",
    "RPCs answered, by method and status code",
    ["service", "method", "code"],
)
RPC_SECONDS = Histogram(
    "licentia_rpc_duration_seconds",
    "Time to answer an RPC",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
USAGE_EVENTS = Counter(
    "licentia_usage_events", "Usage events answered by metering, by status", ["status"]
)

log = logging.getLogger("licentia.metrics")
_gauges: dict[str, Gauge] = {}
_lock = threading.Lock()


def observe_rpc(service: str, method: str, code: str, seconds: float) -> None:
    RPC_REQUESTS.labels(service, method, code).inc()
    RPC_SECONDS.labels(service, method).observe(seconds)


def gauge(name: str, documentation: str, service: str, read: Callable[[], float]) -> None:
    """A gauge read when scraped (index size, outbox backlog...). A read that fails shows
    as NaN rather than failing the whole scrape."""

    def safe_read() -> float:
        try:
            return read()
        except Exception:
            log.warning("metric %s could not be read", name, exc_info=True)
            return math.nan

    with _lock:
        if name not in _gauges:
            _gauges[name] = Gauge(name, documentation, ["service"])
    _gauges[name].labels(service).set_function(safe_read)


def forget_gauges(names: Iterable[str], service: str) -> None:
    """A stopped server's gauges stop being reported."""
    with _lock:
        for name in names:
            if name in _gauges:
                with contextlib.suppress(KeyError):
                    _gauges[name].remove(service)


def serve_metrics(port: int, host: str) -> Any:
    """Start the HTTP endpoint (`/metrics`); returns the server to shut it down."""
    server, _thread = start_http_server(port, addr=host)
    return server
