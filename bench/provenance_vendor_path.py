"""CheckText on the path AI vendors really call: prints figures; never a pass/fail test.

`licentia serve catalog`, `licensing` and `provenance` as processes (SQLite, or
PostgreSQL when TEST_DATABASE_URL is set). A publisher imports BENCH_VENDOR_WORKS
(default 8,000) 400-word articles and offers them all for AI answers; a vendor takes the
offer. Then the vendor, authenticated with its API key, checks texts of 100-600 words
that quote 0, 1 or 3 of the works (50-word excerpts), each quoting works no text quoted
before: provenance reads those works' words from the database and asks licensing about
them (document cache and license answers cold). The same texts again show the warm path.
Then 8 concurrent callers, beside a bare gRPC server's no-op call in the same run. Last,
the same path in process: the service layer in this process, over the server's
database and index, with its own view of licensing (cold) and document cache (cold),
checking texts that quote works not quoted before.

The vendor's license covers the publisher's whole catalogue, so licensing's first answer
holds for every work of that publisher and later cold texts ask licensing nothing. A
license narrowed to sections or works makes each cold text one BatchCheckPermissions
call (about 3-4 ms more on this machine).

Targets (issue: vendor-path latency): p99 <= 5 ms through gRPC with one caller, <= 2 ms
in process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as capi_grpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lapi_grpc
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import provenance_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from bench.grpc_floor import measure_floor
from bench.harness import OPERATOR, SERVICE_TOKEN, measure, publisher_and_vendor, running
from services.provenance import app as provenance_app
from services.provenance.adapters.licensing_client import LicensingPermissions
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.service_layer.checking import CheckService, DocumentCache
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.principal import Principal, Role
from services.samples.articles import ArticleGenerator

WORKS = int(os.environ.get("BENCH_VENDOR_WORKS", "8000"))
TEXTS = 300  # per kind
OP = (("authorization", f"Bearer {OPERATOR}"),)


def setup(ports: dict[str, int]) -> tuple[str, list[str], list[str]]:
    """The market: works imported and licensed. Returns the vendor's key, the works'
    names and bodies."""
    options = [("grpc.max_send_message_length", 64 << 20)]
    catalog = capi_grpc.CatalogServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ports['catalog']}", options=options)
    )
    licensing = lapi_grpc.LicensingServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ports['licensing']}")
    )
    keys = publisher_and_vendor(catalog)
    generator = ArticleGenerator(seed=12)
    bodies = [generator.text(400) for _ in range(WORKS)]
    names: list[str] = []
    requests = (
        capi.ImportWorksRequest(
            parent="publishers/p",
            works=[
                cres.Work(external_id=f"w{n}", title=f"W {n}", language="en", body=bodies[n])
                for n in range(start, min(WORKS, start + 500))
            ],
        )
        for start in range(0, WORKS, 500)
    )
    publisher = (("authorization", f"Bearer {keys['publishers/p']}"),)
    vendor = (("authorization", f"Bearer {keys['vendors/v']}"),)
    for response in catalog.ImportWorks(requests, metadata=publisher):
        names.extend(r.work for r in response.results)
    offer = licensing.CreateOffer(
        lapi.CreateOfferRequest(
            parent="publishers/p",
            offer=lres.Offer(
                display_name="Answers",
                terms=lres.Terms(
                    permitted_uses=["ai-input"],
                    price=lres.Price(
                        model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000
                    ),
                ),
            ),
        ),
        metadata=publisher,
    )
    licensing.PublishOffer(lapi.PublishOfferRequest(name=offer.name), metadata=publisher)
    licensing.CreateProposal(lapi.CreateProposalRequest(offer=offer.name), metadata=vendor)
    provenance = api_grpc.ProvenanceServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ports['provenance']}")
    )
    started = time.perf_counter()
    while True:
        stats = provenance.GetIndexStats(api.GetIndexStatsRequest(), metadata=OP)
        if stats.works >= WORKS and not stats.works_behind:
            break
        time.sleep(0.5)
    print(f"  {WORKS:,} works indexed {time.perf_counter() - started:.1f} s after the import")
    return keys["vendors/v"], names, bodies


def texts(bodies: list[str], quoting: int, fresh: list[int]) -> list[str]:
    """TEXTS texts of 100-600 words quoting `quoting` works each, taken from `fresh`
    (works no earlier text quoted)."""
    rng = random.Random(quoting)
    filler = ArticleGenerator(seed=200 + quoting)
    out = []
    for _ in range(TEXTS):
        words = filler.words(rng.randrange(100, 601))
        pieces = [words]
        for _ in range(quoting):
            source = bodies[fresh.pop()].split()
            start = rng.randrange(0, len(source) - 50)
            pieces.append(source[start : start + 50])
        out.append(" ".join(" ".join(p) for p in pieces))
    return out


async def check(port: int, key: str, kinds: dict[int, list[str]]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = api_grpc.ProvenanceServiceStub(channel)
        metadata = (("authorization", f"Bearer {key}"),)
        for label in ("cold: works and licenses never checked", "warm: the same texts again"):
            for quoting, batch in kinds.items():
                latencies, licensed = [], 0
                for text in batch:
                    t0 = time.perf_counter()
                    answer = await stub.CheckText(
                        api.CheckTextRequest(text=text), metadata=metadata
                    )
                    latencies.append(time.perf_counter() - t0)
                    licensed += sum(m.license_status == 1 for m in answer.matches)
                lat = np.array(latencies) * 1e3
                print(
                    f"CheckText as the vendor, 1 caller, quoting {quoting} ({label}): p50 "
                    f"{np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms; "
                    f"{licensed}/{quoting * len(batch)} quoted works reported LICENSED"
                )
        every = [t for batch in kinds.values() for t in batch]

        async def call(i: int) -> None:
            await stub.CheckText(
                api.CheckTextRequest(text=every[i % len(every)]), metadata=metadata
            )

        await measure("CheckText as the vendor, warm, mixed texts", call, len(every), 8)


def in_process(
    data_dir: str, licensing_port: int, vendor: str, kinds: dict[int, list[str]]
) -> None:
    settings = Settings(data_dir=Path(data_dir), service_token=SERVICE_TOKEN).with_ports(
        licensing=licensing_port
    )
    database = provenance_app.open_database(settings)
    channels = ServiceChannels(settings, TracerProvider())
    uow = UnitOfWorkFactory(database)
    index = FingerprintIndex()
    with uow(write=False) as work:
        index.load(work.index.current_fingerprints())
    permissions = LicensingPermissions(channels.channel("licensing"))
    checks = CheckService(
        index, DocumentCache(uow, settings.provenance_document_cache), permissions
    )
    principal = Principal(Role.VENDOR, vendor)
    gc.collect()
    gc.freeze()  # as the server does once started
    for quoting, batch in kinds.items():
        latencies, licensed = [], 0
        for text in batch:
            t0 = time.perf_counter()
            result = checks.check(principal, text, "")
            latencies.append(time.perf_counter() - t0)
            licensed += sum(bool(m.license and m.license.allowed) for m in result.matches)
        lat = np.array(latencies) * 1e3
        print(
            f"CheckText as the vendor, in process, quoting {quoting} (cold): p50 "
            f"{np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms; "
            f"{licensed}/{quoting * len(batch)} LICENSED; {permissions.calls} licensing "
            f"calls so far"
        )
    channels.close()
    database.dispose()


def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="licentia-bench-")
    with running(["catalog", "licensing", "provenance"], data_dir=data_dir) as ports:
        key, _names, bodies = setup(ports)
        fresh = list(range(len(bodies)))
        random.Random(1).shuffle(fresh)
        kinds = {quoting: texts(bodies, quoting, fresh) for quoting in (0, 1, 3)}
        asyncio.run(check(ports["provenance"], key, kinds))
        local = {quoting: texts(bodies, quoting, fresh) for quoting in (0, 1, 3)}
        if "TEST_DATABASE_URL" in os.environ or "LICENTIA_DATABASE_URL" in os.environ:
            print("in process: measured on SQLite only (the default store)")
        else:
            in_process(data_dir, ports["licensing"], "vendors/v", local)
    measure_floor(len(kinds[0]) * 3, (1, 8))


if __name__ == "__main__":
    main()
