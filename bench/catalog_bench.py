"""Catalog benchmark: prints figures; never a pass/fail test.

- ImportWorks works/s of 400-word articles, outbox included (target: >= 2,000/s).
- GetWork and ListWorks calls/s with p50/p99 under 32 concurrent callers, tracing on at
  the default sampling.

The server runs as its own process (`licentia serve catalog`), on PostgreSQL when
TEST_DATABASE_URL (or LICENTIA_DATABASE_URL) is set, else SQLite. Load comes from an
asyncio gRPC client in this process.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

OPERATOR = "bench-operator-key"
WORKS = int(os.environ.get("BENCH_WORKS", "20000"))
BATCH = 500
CONCURRENCY = 32
CALLS = int(os.environ.get("BENCH_CALLS", "6000"))
VOCABULARY = [f"w{i}" for i in range(5000)]


def article(n: int, rng: random.Random) -> res.Work:
    return res.Work(
        external_id=f"bench-{n}",
        title=f"Bench article {n}",
        language="en",
        section=rng.choice(["politics", "business", "sport"]),
        body=" ".join(rng.choices(VOCABULARY, k=400)),
    )


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "catalog"], env=env)
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    for _ in range(150):
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                return process
        except grpc.RpcError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("catalog did not start")


def bench_import(stub: api_grpc.CatalogServiceStub, publisher: str, key: str) -> None:
    rng = random.Random(7)
    batches = [
        api.ImportWorksRequest(
            parent=publisher, works=[article(n, rng) for n in range(b, b + BATCH)]
        )
        for b in range(0, WORKS, BATCH)
    ]
    started = time.perf_counter()
    created = 0
    for response in stub.ImportWorks(iter(batches), metadata=[("authorization", f"Bearer {key}")]):
        created += sum(r.outcome == api.ImportWorkResult.OUTCOME_CREATED for r in response.results)
        done = created
        if done % 5000 < BATCH:
            print(f"  imported {done:,}/{WORKS:,}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(
        f"ImportWorks: {created:,} works of 400 words in {elapsed:.2f}s "
        f"= {created / elapsed:,.0f} works/s (target 2,000)"
    )


async def _caller(counter: Iterator[int], make_call: Any, latencies: list[float]) -> None:
    for i in counter:
        started = time.perf_counter()
        await make_call(i)
        latencies.append(time.perf_counter() - started)


async def bench_reads(address: str, key: str, names: list[str], publisher: str) -> None:
    metadata = (("authorization", f"Bearer {key}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = api_grpc.CatalogServiceStub(channel)
        for label, make_call in (
            (
                "GetWork",
                lambda i: stub.GetWork(
                    api.GetWorkRequest(name=names[i % len(names)]), metadata=metadata
                ),
            ),
            (
                "ListWorks(page_size=20)",
                lambda i: stub.ListWorks(
                    api.ListWorksRequest(parent=publisher, page_size=20, section="sport"),
                    metadata=metadata,
                ),
            ),
        ):
            latencies: list[float] = []
            counter = iter(range(CALLS))

            started = time.perf_counter()
            await asyncio.gather(
                *(_caller(counter, make_call, latencies) for _ in range(CONCURRENCY))
            )
            elapsed = time.perf_counter() - started
            latencies.sort()
            p50 = latencies[len(latencies) // 2] * 1000
            p99 = latencies[int(len(latencies) * 0.99)] * 1000
            print(
                f"{label}: {CALLS / elapsed:,.0f} calls/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                f"({CONCURRENCY} concurrent callers)"
            )


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir = tempfile.mkdtemp(prefix="licentia-bench-")
    env = {
        **os.environ,
        "LICENTIA_DATA_DIR": data_dir,
        "LICENTIA_CATALOG_PORT": str(port),
        "LICENTIA_OPERATOR_API_KEY": OPERATOR,
        "LICENTIA_LOG_LEVEL": "WARNING",
        "LICENTIA_RATE_LIMIT_PER_SECOND": "1000000",
        "LICENTIA_RATE_LIMIT_BURST": "1000000",
    }
    url = os.environ.get("LICENTIA_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    if url:
        env["LICENTIA_DATABASE_URL"] = url
        env["LICENTIA_DATABASE_SCHEMA"] = schema
    print(f"catalog on {'PostgreSQL' if url else 'SQLite'}, tracing sampled at the default ratio")
    process = start_server(env, port)
    try:
        channel = grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)]
        )
        stub = api_grpc.CatalogServiceStub(channel)
        op = [("authorization", f"Bearer {OPERATOR}")]
        publisher = stub.CreatePublisher(
            api.CreatePublisherRequest(
                publisher=res.Publisher(display_name="Bench"), publisher_id="bench"
            ),
            metadata=op,
        ).name
        key = stub.CreateApiKey(api.CreateApiKeyRequest(parent=publisher), metadata=op).key
        bench_import(stub, publisher, key)
        page = stub.ListWorks(
            api.ListWorksRequest(parent=publisher, page_size=1000),
            metadata=[("authorization", f"Bearer {key}")],
        )
        asyncio.run(bench_reads(f"127.0.0.1:{port}", key, [w.name for w in page.works], publisher))
        channel.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        if url:
            from sqlalchemy import create_engine, text

            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_catalog" CASCADE'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
