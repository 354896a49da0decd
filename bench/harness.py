"""What every benchmark needs: services as real processes, and latency under load."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.launcher import http_health_of
from services.runtime.config import PROTOCOLS
from services.runtime.ports import free_port

OPERATOR = "bench-operator-key"
SERVICE_TOKEN = "bench-service-token"


class Ports(dict[str, int]):
    """A service's port by name (its first replica); `replicas[name]`: every replica's."""

    def __init__(self, replicas: dict[str, list[int]]) -> None:
        super().__init__({name: ports[0] for name, ports in replicas.items()})
        self.replicas = replicas
        self.pids: dict[str, list[int]] = {name: [] for name in replicas}


@contextmanager
def running(
    services: list[str],
    data_dir: str | None = None,
    sqlite_only: bool = False,
    schema_prefix: str | None = None,
    replicas: dict[str, int] | None = None,
) -> Iterator[Ports]:
    """Starts each service as `licentia serve <name>` (SQLite, or PostgreSQL when
    TEST_DATABASE_URL or LICENTIA_DATABASE_URL is set and not `sqlite_only`, in schemas
    `{schema_prefix}_{service}`), `replicas[name]` processes of it (default one) sharing
    its database; yields their ports."""
    counts = replicas or {}
    ports = Ports({name: [free_port() for _ in range(counts.get(name, 1))] for name in services})
    env = {
        **os.environ,
        "LICENTIA_DATA_DIR": data_dir or tempfile.mkdtemp(prefix="licentia-bench-"),
        "LICENTIA_OPERATOR_API_KEY": OPERATOR,
        "LICENTIA_SERVICE_TOKEN": SERVICE_TOKEN,
        "LICENTIA_LOG_LEVEL": "WARNING",
        "LICENTIA_RATE_LIMIT_PER_SECOND": "1000000",
        "LICENTIA_RATE_LIMIT_BURST": "1000000",
        **{f"LICENTIA_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    url = os.environ.get("LICENTIA_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if sqlite_only:
        url = None
        env.pop("LICENTIA_DATABASE_URL", None)
    prefix = schema_prefix or f"bench_{uuid.uuid4().hex[:8]}"
    if url:
        env["LICENTIA_DATABASE_URL"] = url
        env["LICENTIA_DATABASE_SCHEMA"] = prefix
    store = "PostgreSQL" if url else "SQLite"
    print(f"{', '.join(services)} on {store}, tracing sampled at the default ratio")
    processes = []
    try:
        for name in services:
            for replica, port in enumerate(ports.replicas[name], start=1):
                own = {**env, f"LICENTIA_{name.upper()}_PORT": str(port)}
                processes.append(
                    subprocess.Popen([sys.executable, "-m", "services.cli", "serve", name], env=own)
                )
                ports.pids[name].append(processes[-1].pid)
                started = time.perf_counter()
                wait_healthy(name, port)
                label = name if replica == 1 else f"{name} (replica {replica})"
                print(f"{label} serving {time.perf_counter() - started:.1f} s after launch")
        yield ports
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
        if url:
            _drop_schemas(url, prefix, services)


def wait_healthy(name: str, port: int) -> None:
    if PROTOCOLS.get(name) == "http":
        for _ in range(300):
            if http_health_of(f"127.0.0.1:{port}") == "SERVING":
                return
            time.sleep(0.2)
        raise SystemExit(f"{name} did not start")
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    for _ in range(300):
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                return
        except grpc.RpcError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start")


def _drop_schemas(url: str, prefix: str, services: list[str]) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for name in services:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}_{name}" CASCADE'))
    engine.dispose()


async def _caller(
    counter: Iterator[int],
    call: Callable[[int], Awaitable[object]],
    latencies: list[float],
) -> None:
    for i in counter:
        started = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - started)


@dataclass(frozen=True)
class Figures:
    calls_per_second: float
    p50_ms: float
    p99_ms: float


async def measure(
    label: str,
    call: Callable[[int], Awaitable[object]],
    calls: int,
    concurrency: int,
    quiet: bool = False,
) -> Figures:
    """Runs `calls` calls from `concurrency` callers, each back to back (closed loop);
    prints (unless `quiet`) and returns calls/s, p50 and p99."""
    latencies: list[float] = []
    counter = iter(range(calls))
    started = time.perf_counter()
    await asyncio.gather(*(_caller(counter, call, latencies) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    figures = Figures(
        calls / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
    )
    if not quiet:
        print(
            f"{label}: {figures.calls_per_second:,.0f} calls/s, p50 {figures.p50_ms:.1f} ms,"
            f" p99 {figures.p99_ms:.1f} ms ({concurrency} concurrent callers)"
        )
    return figures


def publisher_and_vendor(catalog: object) -> dict[str, str]:
    """Publisher `publishers/p` and vendor `vendors/v`, made by the operator through the
    catalog stub given; returns each one's API key by name."""
    from licentia.catalog.v1 import catalog_service_pb2 as capi
    from licentia.catalog.v1 import resources_pb2 as cres

    op = (("authorization", f"Bearer {OPERATOR}"),)
    stub: Any = catalog
    stub.CreatePublisher(
        capi.CreatePublisherRequest(publisher=cres.Publisher(display_name="P"), publisher_id="p"),
        metadata=op,
    )
    stub.CreateVendor(
        capi.CreateVendorRequest(vendor=cres.Vendor(display_name="V"), vendor_id="v"),
        metadata=op,
    )
    return {
        who: stub.CreateApiKey(capi.CreateApiKeyRequest(parent=who), metadata=op).key
        for who in ("publishers/p", "vendors/v")
    }
