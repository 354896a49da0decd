"""The shared runtime's per-call cost: prints figures; never a pass/fail test.

All five services as processes (`licentia serve`, SQLite, or PostgreSQL when
TEST_DATABASE_URL is set) and a bare gRPC server (no interceptors, no tracing, no auth,
no storage), measured the same way in one run: 1 and 32 closed-loop callers from one
asyncio client process, which shares the machine's cores with the servers.

For each service: a health check (every interceptor, no work), its main read and its
main write, each called with the party's API key as a real caller would:

| service | read | write |
|---|---|---|
| catalog | GetWork, ListWorks (page of 50) | CreateWork |
| licensing | GetOffer, ListOffers (page of 50) | CreateOffer |
| provenance | CheckText (one 100-word text quoting a work: warm) | (follows the catalog) |
| metering | GetUsageSummary (a day, by hour) | RecordUsage (one event) |
| settlement | GetRunningCharges | SetBudget |

Each health check is also measured against a bare gRPC server's no-op call (running
all along) in alternating short rounds, and the median of the rounds' ratios printed:
this machine's speed drifts by ±30% between minutes, which a floor measured once, at
the end, would put into the ratio. Floors close the run: a bare gRPC server's no-op
call; the same with an interceptor that only reads the clock around each call (the
least per-call Python any runtime adds); and (on PostgreSQL) a bare server whose only
work is one primary-key read through SQLAlchemy, the least any database read costs on
this machine.

CheckText here repeats one text, so its caches are warm; `provenance_vendor_path`
measures texts quoting works never checked before.

Targets (issue: per-call cost): a health check within 1.25x of the floor (calls/s and
p50, 1 and 32 callers); catalog GetWork/ListWorks and licensing GetOffer/ListOffers on
PostgreSQL within 1.5x of the health check's calls/s at 32 callers.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as capi_grpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lapi_grpc
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mapi_grpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.provenance.v1 import provenance_service_pb2 as papi
from licentia.provenance.v1 import provenance_service_pb2_grpc as papi_grpc
from licentia.settlement.v1 import resources_pb2 as sres
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sapi_grpc

from bench.aio_server_bench import measure_database_floor
from bench.grpc_floor import bare_servers, measure_floor
from bench.harness import OPERATOR, measure, publisher_and_vendor, running
from services.samples.articles import ArticleGenerator

CALLS = int(os.environ.get("BENCH_CALLS", "3000"))
# Paired health checks against the floor: alternating rounds of this many calls.
ROUNDS = 8
ROUND_CALLS = 1_000
SERVICES = ["catalog", "licensing", "provenance", "metering", "settlement"]
# The services measured (all are started): BENCH_SERVICES=provenance,metering
MEASURED = os.environ.get("BENCH_SERVICES", ",".join(SERVICES)).split(",")
OP = (("authorization", f"Bearer {OPERATOR}"),)
Call = Callable[[int], Awaitable[object]]


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


@dataclass(frozen=True)
class Market:
    publisher: tuple[tuple[str, str], ...]  # call metadata with the party's key
    vendor: tuple[tuple[str, str], ...]
    works: list[str]
    offers: list[str]
    license: str
    text: str  # quotes a work


def setup(ports: dict[str, int]) -> Market:
    """A publisher with 500 works and 60 offers, a vendor licensed to them all."""
    catalog = capi_grpc.CatalogServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports['catalog']}"))
    licensing = lapi_grpc.LicensingServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ports['licensing']}")
    )
    keys = publisher_and_vendor(catalog)
    publisher, vendor = auth(keys["publishers/p"]), auth(keys["vendors/v"])
    generator = ArticleGenerator(seed=3)
    bodies = [generator.text(400) for _ in range(500)]
    works = [
        r.work
        for response in catalog.ImportWorks(
            iter(
                [
                    capi.ImportWorksRequest(
                        parent="publishers/p",
                        works=[
                            cres.Work(
                                external_id=f"w{n}", title=f"W{n}", language="en", body=bodies[n]
                            )
                            for n in range(500)
                        ],
                    )
                ]
            ),
            metadata=publisher,
        )
        for r in response.results
    ]
    offers = [
        licensing.CreateOffer(
            lapi.CreateOfferRequest(parent="publishers/p", offer=_offer(n)), metadata=publisher
        ).name
        for n in range(60)
    ]
    licensing.PublishOffer(lapi.PublishOfferRequest(name=offers[0]), metadata=publisher)
    proposal = licensing.CreateProposal(
        lapi.CreateProposalRequest(offer=offers[0]), metadata=vendor
    )
    text = " ".join(ArticleGenerator(seed=4).words(50)) + " " + bodies[7][:400]
    return Market(publisher, vendor, works, offers, proposal.license, text)


def _offer(n: int) -> lres.Offer:
    return lres.Offer(
        display_name=f"Answers {n}",
        terms=lres.Terms(
            permitted_uses=["ai-input"],
            price=lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000),
        ),
    )


def calls(channels: dict[str, grpc.aio.Channel], market: Market) -> dict[str, Call]:
    catalog = capi_grpc.CatalogServiceStub(channels["catalog"])
    licensing = lapi_grpc.LicensingServiceStub(channels["licensing"])
    provenance = papi_grpc.ProvenanceServiceStub(channels["provenance"])
    metering = mapi_grpc.MeteringServiceStub(channels["metering"])
    settlement = sapi_grpc.SettlementServiceStub(channels["settlement"])
    publisher, vendor, works, offers = market.publisher, market.vendor, market.works, market.offers
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(day - timedelta(days=1))
    end.FromDatetime(day + timedelta(days=1))
    now = Timestamp()
    now.FromDatetime(datetime.now(UTC))
    event_ids = itertools.count()
    return {
        "catalog GetWork": lambda i: catalog.GetWork(
            capi.GetWorkRequest(name=works[i % len(works)]), metadata=publisher
        ),
        "catalog ListWorks": lambda i: catalog.ListWorks(
            capi.ListWorksRequest(parent="publishers/p", page_size=50), metadata=publisher
        ),
        "catalog CreateWork": lambda i: catalog.CreateWork(
            capi.CreateWorkRequest(
                parent="publishers/p",
                work=cres.Work(
                    title=f"N{i}", language="en", body="A short note for the bench. " * 20
                ),
            ),
            metadata=publisher,
        ),
        "licensing GetOffer": lambda i: licensing.GetOffer(
            lapi.GetOfferRequest(name=offers[i % len(offers)]), metadata=publisher
        ),
        "licensing ListOffers": lambda i: licensing.ListOffers(
            lapi.ListOffersRequest(parent="publishers/p", page_size=50), metadata=publisher
        ),
        "licensing CreateOffer": lambda i: licensing.CreateOffer(
            lapi.CreateOfferRequest(parent="publishers/p", offer=_offer(1000 + i)),
            metadata=publisher,
        ),
        "provenance CheckText": lambda i: provenance.CheckText(
            papi.CheckTextRequest(text=market.text), metadata=vendor
        ),
        "metering GetUsageSummary": lambda i: metering.GetUsageSummary(
            mapi.GetUsageSummaryRequest(start_time=start, end_time=end), metadata=vendor
        ),
        "metering RecordUsage": lambda i: metering.RecordUsage(
            mapi.RecordUsageRequest(
                events=[
                    mres.UsageEvent(
                        id=f"bench-{next(event_ids)}",
                        license=market.license,
                        work=works[i % len(works)],
                        use="ai-input",
                        unit=mres.UNIT_USES,
                        quantity=1,
                        occur_time=now,
                        source="bench",
                    )
                ]
            ),
            metadata=vendor,
        ),
        "settlement GetRunningCharges": lambda i: settlement.GetRunningCharges(
            sapi.GetRunningChargesRequest(), metadata=vendor
        ),
        "settlement SetBudget": lambda i: settlement.SetBudget(
            sapi.SetBudgetRequest(
                budget=sres.Budget(currency="USD", amount=1_000_000 + i, alert_threshold_bps=8000)
            ),
            metadata=vendor,
        ),
    }


async def run(ports: dict[str, int], market: Market, floor_port: int) -> None:
    channels = {s: grpc.aio.insecure_channel(f"127.0.0.1:{ports[s]}") for s in SERVICES}
    floor_channel = grpc.aio.insecure_channel(f"127.0.0.1:{floor_port}")
    floor = health_pb2_grpc.HealthStub(floor_channel)

    def floor_check(_: int) -> Awaitable[object]:
        return floor.Check(health_pb2.HealthCheckRequest())

    try:
        named = calls(channels, market)
        await measure("bare floor (warm-up)", floor_check, 500, 32)
        for service in MEASURED:
            health = health_pb2_grpc.HealthStub(channels[service])

            def check(_: int, health: health_pb2_grpc.HealthStub = health) -> Awaitable[object]:
                return health.Check(health_pb2.HealthCheckRequest())

            await measure(f"{service} health (warm-up)", check, 500, 32)
            for callers in (1, 32):
                await measure(
                    f"{service} health, every interceptor, no work", check, CALLS, callers
                )
                await paired(f"{service} health", check, floor_check, callers)
            for label, call in named.items():
                if label.startswith(service):
                    await measure(f"{label} (warm-up)", call, 200, 32)
                    for callers in (1, 32):
                        await measure(label, call, CALLS, callers)
    finally:
        for channel in [*channels.values(), floor_channel]:
            await channel.close()


async def paired(
    label: str,
    call: Callable[[int], Awaitable[object]],
    floor_call: Callable[[int], Awaitable[object]],
    callers: int,
) -> None:
    """The call against the bare floor in alternating short rounds (which goes first
    alternates too), so the machine's drift between minutes falls on both alike; prints
    the median of the rounds' ratios (floor over call) and their range."""
    rates: list[float] = []
    p50s: list[float] = []
    for round_ in range(ROUNDS):
        pair = [("floor", floor_call), ("call", call)]
        if round_ % 2:
            pair.reverse()
        got = {name: await measure("", f, ROUND_CALLS, callers, quiet=True) for name, f in pair}
        rates.append(got["floor"].calls_per_second / got["call"].calls_per_second)
        p50s.append(got["call"].p50_ms / got["floor"].p50_ms)
    print(
        f"{label} against the bare floor, {callers} callers, {ROUNDS} alternating rounds of"
        f" {ROUND_CALLS:,} calls: floor calls/s over the call's {statistics.median(rates):.2f}x"
        f" (rounds {min(rates):.2f}-{max(rates):.2f}x), p50 over the floor's"
        f" {statistics.median(p50s):.2f}x ({min(p50s):.2f}-{max(p50s):.2f}x)"
    )


def main() -> None:
    with bare_servers(1) as [floor_port], running(SERVICES) as ports:
        market = setup(ports)
        asyncio.run(run(ports, market, floor_port))
    measure_floor(CALLS, (1, 32), clock_only=True)
    measure_database_floor()


if __name__ == "__main__":
    main()
