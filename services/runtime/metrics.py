"""Prometheus metrics: every RPC (count by code, latency) and each service's own gauges
and counters, served over HTTP on LICENTIA_METRICS_PORT when it is set.

Metrics are process-wide with a `service` label, so several servers in one process
(tests) share them without clashing.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

USAGE_EVENTS = Counter(
    "licentia_usage_events", "Usage events answered by metering, by status", ["status"]
)

log = logging.getLogger("licentia.metrics")
_gauges: dict[str, Gauge] = {}
_lock = threading.Lock()


RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _RpcTally:
    """One thread's counts for one method: calls by code, and the duration histogram."""

    __slots__ = ("buckets", "codes", "total")

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.buckets = [0] * (len(RPC_BUCKETS) + 1)  # the last one: above every bound
        self.total = 0.0


class RpcMetrics(Collector):
    """`licentia_rpc_requests_total{service,method,code}` and the histogram
    `licentia_rpc_duration_seconds{service,method}`.

    A call is counted in its own thread's tallies, with no lock (prometheus_client's
    metrics take a lock per update, contended by every serving thread at once); a scrape
    sums the threads' tallies."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._shards: list[dict[tuple[str, str], _RpcTally]] = []
        self._lock = threading.Lock()

    def observe(self, service: str, method: str, code: str, seconds: float) -> None:
        shard = getattr(self._local, "shard", None)
        if shard is None:
            shard = self._local.shard = {}
            with self._lock:
                self._shards.append(shard)
        tally = shard.get((service, method))
        if tally is None:
            tally = shard[service, method] = _RpcTally()
        tally.codes[code] = tally.codes.get(code, 0) + 1
        tally.buckets[bisect.bisect_left(RPC_BUCKETS, seconds)] += 1
        tally.total += seconds

    def collect(self) -> Iterator[Metric]:
        calls: dict[tuple[str, str, str], int] = {}
        durations: dict[tuple[str, str], tuple[list[int], float]] = {}
        with self._lock:
            shards = list(self._shards)
        for shard in shards:
            for key, tally in list(shard.items()):
                for code, count in list(tally.codes.items()):
                    calls[(*key, code)] = calls.get((*key, code), 0) + count
                buckets, total = durations.get(key, ([0] * len(tally.buckets), 0.0))
                durations[key] = (
                    [a + b for a, b in zip(buckets, tally.buckets, strict=True)],
                    total + tally.total,
                )
        requests = CounterMetricFamily(
            "licentia_rpc_requests",
            "RPCs answered, by method and status code",
            labels=["service", "method", "code"],
        )
        for (service, method, code), count in sorted(calls.items()):
            requests.add_metric([service, method, code], count)
        yield requests
        seconds = HistogramMetricFamily(
            "licentia_rpc_duration_seconds",
            "Time to answer an RPC",
            labels=["service", "method"],
        )
        for (service, method), (buckets, total) in sorted(durations.items()):
            cumulative = list(itertools.accumulate(buckets))
            bounds = [*(str(float(b)) for b in RPC_BUCKETS), "+Inf"]
            seconds.add_metric([service, method], list(zip(bounds, cumulative, strict=True)), total)
        yield seconds


RPC = RpcMetrics()
REGISTRY.register(RPC)


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
