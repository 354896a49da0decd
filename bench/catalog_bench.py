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
import sys
import time

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from bench.harness import OPERATOR, measure, running

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


async def bench_reads(address: str, key: str, names: list[str], publisher: str) -> None:
    metadata = (("authorization", f"Bearer {key}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = api_grpc.CatalogServiceStub(channel)
        await measure(
            "GetWork",
            lambda i: stub.GetWork(
                api.GetWorkRequest(name=names[i % len(names)]), metadata=metadata
            ),
            CALLS,
            CONCURRENCY,
        )
        await measure(
            "ListWorks(page_size=20)",
            lambda i: stub.ListWorks(
                api.ListWorksRequest(parent=publisher, page_size=20, section="sport"),
                metadata=metadata,
            ),
            CALLS,
            CONCURRENCY,
        )


def main() -> int:
    with running(["catalog"]) as ports:
        address = f"127.0.0.1:{ports['catalog']}"
        channel = grpc.insecure_channel(
            address, options=[("grpc.max_send_message_length", 64 << 20)]
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
        asyncio.run(bench_reads(address, key, [w.name for w in page.works], publisher))
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
