"""Licensing benchmark: prints figures; never a pass/fail test.

- CheckPermission decided in process (PermissionIndex.check, what metering and provenance
  pay per event): 4,000 licenses (200 vendors x 20 publishers), random vendor, work, use
  and territory. Target: at least 200,000 decisions/s after warm-up.
- CheckPermission through gRPC (`licentia serve catalog` and `licensing` as processes)
  with 1, 4 and 32 concurrent callers. Target: p99 under 5 ms at 32 callers.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as capi_grpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from bench.grpc_floor import measure_floor, measure_service_health
from bench.harness import OPERATOR, measure, running
from services.licensing.domain.licenses import License, LicenseState
from services.licensing.domain.permissions import PermissionIndex, WorkRef
from services.licensing.domain.terms import Price, PriceModel, Scope, Terms

DECISIONS = int(os.environ.get("BENCH_DECISIONS", "300000"))
CALLS = int(os.environ.get("BENCH_CALLS", "6000"))
CONCURRENCY = 32
T0 = datetime(2026, 1, 1, tzinfo=UTC)
USES = ["ai-input", "ai-train", "search"]
TERRITORIES = ["FR", "US", "CN"]


def bench_in_process() -> None:
    licenses = []
    for v in range(200):
        for p in range(20):
            terms = Terms(
                scope=Scope(sections=("politics",)) if p % 2 else Scope(),
                permitted_uses=("ai-all",),
                prohibited_uses=("ai-train",),
                permitted_territories=("EU", "US"),
                price=Price(PriceModel.PER_USE, "USD", 2_000),
            )
            licenses.append(
                License(
                    f"l{v}x{p}",
                    f"vendors/v{v}",
                    f"publishers/p{p}",
                    "o",
                    f"proposals/p{v}x{p}",
                    terms,
                    1_500,
                    LicenseState.ACTIVE,
                    T0,
                    None,
                    T0,
                    T0,
                    "e",
                )
            )
    index = PermissionIndex()
    index.load(licenses)
    works = [
        WorkRef(f"publishers/p{p}/works/w{i}", f"publishers/p{p}", ("politics", "sport")[i % 2])
        for p in range(20)
        for i in range(50)
    ]
    rng = random.Random(1)
    queries = [
        (
            f"vendors/v{rng.randrange(200)}",
            rng.choice(works),
            rng.choice(USES),
            rng.choice(TERRITORIES),
        )
        for _ in range(DECISIONS)
    ]
    at = T0 + timedelta(days=3)
    for vendor, work, use, territory in queries[:10_000]:  # warm-up
        index.check(vendor, work, use, territory, "commercial", at)
    started = time.perf_counter()
    allowed = 0
    for vendor, work, use, territory in queries:
        allowed += index.check(vendor, work, use, territory, "commercial", at).allowed
    elapsed = time.perf_counter() - started
    print(
        f"CheckPermission in process: {DECISIONS / elapsed:,.0f} decisions/s "
        f"({allowed / DECISIONS:.0%} allowed; target 200,000/s)"
    )


def setup_market(catalog_port: int, licensing_port: int) -> tuple[str, list[str], str]:
    """A publisher with 200 works, a vendor licensed for its politics section (every other
    work) since yesterday (so usage of the last hours is in it); returns the vendor's key,
    the works and the license."""
    op = [("authorization", f"Bearer {OPERATOR}")]
    catalog = capi_grpc.CatalogServiceStub(grpc.insecure_channel(f"127.0.0.1:{catalog_port}"))
    licensing = api_grpc.LicensingServiceStub(grpc.insecure_channel(f"127.0.0.1:{licensing_port}"))
    catalog.CreatePublisher(
        capi.CreatePublisherRequest(publisher=cres.Publisher(display_name="P"), publisher_id="p"),
        metadata=op,
    )
    catalog.CreateVendor(
        capi.CreateVendorRequest(vendor=cres.Vendor(display_name="V"), vendor_id="v"), metadata=op
    )
    works = [
        catalog.CreateWork(
            capi.CreateWorkRequest(
                parent="publishers/p",
                work=cres.Work(
                    title=f"W{i}",
                    body=f"text {i}",
                    language="en",
                    section=("politics", "sport")[i % 2],
                ),
            ),
            metadata=op,
        ).name
        for i in range(200)
    ]
    vendor_key = catalog.CreateApiKey(capi.CreateApiKeyRequest(parent="vendors/v"), metadata=op).key
    publisher_key = catalog.CreateApiKey(
        capi.CreateApiKeyRequest(parent="publishers/p"), metadata=op
    ).key
    yesterday = Timestamp()
    yesterday.FromDatetime(datetime.now(UTC) - timedelta(days=1))
    offer = licensing.CreateOffer(
        api.CreateOfferRequest(
            parent="publishers/p",
            offer=res.Offer(
                display_name="Answers",
                terms=res.Terms(
                    scope=res.Scope(sections=["politics"]),
                    start_time=yesterday,
                    permitted_uses=["ai-all"],
                    prohibited_uses=["ai-train"],
                    price=res.Price(
                        model=res.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000
                    ),
                ),
            ),
        ),
        metadata=[("authorization", f"Bearer {publisher_key}")],
    )
    licensing.PublishOffer(
        api.PublishOfferRequest(name=offer.name),
        metadata=[("authorization", f"Bearer {publisher_key}")],
    )
    proposal = licensing.CreateProposal(
        api.CreateProposalRequest(offer=offer.name),
        metadata=[("authorization", f"Bearer {vendor_key}")],
    )
    return vendor_key, works, proposal.license


async def bench_grpc(licensing_port: int, key: str, works: list[str]) -> None:
    metadata = (("authorization", f"Bearer {key}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{licensing_port}") as channel:
        stub = api_grpc.LicensingServiceStub(channel)

        def call(i: int):  # type: ignore[no-untyped-def]
            request = api.CheckPermissionRequest(work=works[i % len(works)], use=USES[i % 3])
            return stub.CheckPermission(request, metadata=metadata)

        await measure("CheckPermission (warm-up)", call, len(works) * 3, CONCURRENCY)
        # Closed loop: with n callers, latency is about n / throughput once the server is
        # saturated, so the caller counts show where queueing starts.
        for callers in (1, 4, CONCURRENCY):
            await measure("CheckPermission through gRPC", call, CALLS, callers)


def main() -> int:
    bench_in_process()
    with running(["catalog", "licensing"]) as ports:
        key, works, _ = setup_market(ports["catalog"], ports["licensing"])
        asyncio.run(bench_grpc(ports["licensing"], key, works))
        # What the figures above can be read against, measured the same way in this run:
        # the same server answering a call that does nothing, then a bare gRPC server.
        measure_service_health(ports["licensing"], CALLS, (1, 4, CONCURRENCY))
    measure_floor(CALLS, (1, 4, CONCURRENCY))
    return 0


if __name__ == "__main__":
    sys.exit(main())
