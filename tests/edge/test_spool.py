"""The crawl spool against the real metering server: crawls allowed while metering is
down wait on disk (and survive the edge being restarted), then are counted exactly once;
the same crawls decided again are not counted twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mgrpc
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc

from services.edge.adapters.spool import CrawlSpool, SpoolRelay
from services.edge.domain.toll import Crawl, crawl_id
from services.metering import app as metering_app
from services.runtime import proto_time
from services.runtime.clients import open_channel
from services.runtime.errors import Unavailable
from services.runtime.usage_reporting import UsageReporter
from services.settlement import app as settlement_app
from tests.api.market import Market, start_metering, terms
from tests.conftest import OPERATOR_KEY, SERVICE_TOKEN, Client, start_service

CRAWLS = 300


def deliver_all(relay: SpoolRelay, spool: CrawlSpool, seconds: float = 30.0) -> None:
    """Run the relay until the spool is empty, as its thread does: a channel that saw the
    service down may refuse for a moment after it is back (its reconnect backoff), and
    the relay then tries again."""
    deadline = time.monotonic() + seconds
    while spool.backlog():
        try:
            relay.run_once()
        except Unavailable:
            assert time.monotonic() < deadline, "metering stayed unreachable"
            time.sleep(0.1)


def test_crawls_wait_out_an_outage_and_a_restart_and_count_once(
    market: Market, tmp_path: Path
) -> None:
    metering = start_metering(market)
    port, settings = metering.server.port, metering.settings
    offer = market.offer(market.pa, terms(permitted_uses=["ai-index"]))
    lic = market.license(market.va, offer)
    now = datetime.now(UTC)
    crawls = [
        Crawl(crawl_id(f"t{i}", f"https://x/{i}"), market.va.name, lic.name,
              market.works_a[i % 4], "ai-index", now)
        for i in range(CRAWLS)
    ]  # fmt: skip
    channel = open_channel(f"127.0.0.1:{port}", SERVICE_TOKEN)
    metering.channel.close()
    metering.server.stop(0)  # metering is down

    spool = CrawlSpool(tmp_path / "crawls.db")
    for crawl in crawls:
        spool.add(crawl)
    relay = SpoolRelay(spool, UsageReporter(channel), 0.05)
    with pytest.raises(Unavailable):
        relay.run_once()
    assert spool.backlog() == CRAWLS
    spool.close()  # the edge stops (or dies) with crawls unsent

    spool = CrawlSpool(tmp_path / "crawls.db")
    assert spool.backlog() == CRAWLS
    metering = start_service(metering_app, settings, port)  # metering is back
    try:
        relay = SpoolRelay(spool, UsageReporter(channel), 0.05)
        deliver_all(relay, spool)
        for crawl in crawls[:100]:  # the same requests decided again
            spool.add(crawl)
        relay.run_once()
        assert spool.backlog() == 0
        meter = Client(metering.channel, OPERATOR_KEY, mgrpc.MeteringServiceStub)
        hour = now.replace(minute=0, second=0, microsecond=0)
        rows = meter.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=Timestamp(seconds=int((hour - timedelta(hours=1)).timestamp())),
                end_time=Timestamp(seconds=int((hour + timedelta(hours=2)).timestamp())),
                license=lic.name,
            )
        ).rows
        assert sum(r.quantity for r in rows) == CRAWLS
        assert sum(r.events for r in rows) == CRAWLS
    finally:
        spool.close()
        channel.close()
        metering.channel.close()
        metering.server.stop(0)


def test_spooled_crawls_are_billed_at_the_per_crawl_price(market: Market, tmp_path: Path) -> None:
    """Crawls the toll allowed under a per-crawl license, counted through the spool, are
    invoiced at the offer's price when the period closes: 40 crawls at $0.01 = $0.40."""
    metering = start_metering(market)
    settlement = start_service(settlement_app, metering.settings)
    try:
        offer = market.offer(
            market.pa,
            terms(
                permitted_uses=["ai-train"],
                price=lres.Price(
                    model=lres.Price.MODEL_PER_CRAWL, currency="USD", amount_micros=10_000
                ),
                start_time=proto_time.timestamp(datetime.now(UTC) - timedelta(hours=5)),
            ),
        )
        lic = market.license(market.va, offer)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        crawled = hour - timedelta(hours=2) + timedelta(minutes=10)
        spool = CrawlSpool(tmp_path / "crawls.db")
        for i in range(40):
            spool.add(
                Crawl(crawl_id(f"n{i}", f"https://x/{i}"), market.va.name, lic.name,
                      market.works_a[i % 2], "ai-train", crawled)
            )  # fmt: skip
        channel = open_channel(f"127.0.0.1:{metering.server.port}", SERVICE_TOKEN)
        relay = SpoolRelay(spool, UsageReporter(channel), 0.05)
        deliver_all(relay, spool)
        settle = Client(settlement.channel, OPERATOR_KEY, sgrpc.SettlementServiceStub)
        settle.CloseSettlementPeriod(
            sapi.CloseSettlementPeriodRequest(
                start_time=proto_time.timestamp(hour - timedelta(hours=3)),
                end_time=proto_time.timestamp(hour - timedelta(hours=1)),
            )
        )
        [invoice] = settle.ListInvoices(sapi.ListInvoicesRequest()).invoices
        assert (invoice.vendor, invoice.total, invoice.currency) == (market.va.name, 40, "USD")
        spool.close()
        channel.close()
    finally:
        for harness in (settlement, metering):
            harness.channel.close()
            harness.server.stop(0)


def test_a_stopping_edge_sends_what_it_spooled(market: Market, tmp_path: Path) -> None:
    """A replica being replaced (SIGTERM) sends its backlog before it exits, so an
    emptyDir spool leaves nothing behind while metering answers."""
    metering = start_metering(market)
    offer = market.offer(market.pa, terms(permitted_uses=["ai-index"]))
    lic = market.license(market.va, offer)
    now = datetime.now(UTC)
    spool = CrawlSpool(tmp_path / "crawls.db")
    channel = open_channel(f"127.0.0.1:{metering.server.port}", SERVICE_TOKEN)
    try:
        relay = SpoolRelay(spool, UsageReporter(channel), 60.0)
        relay.start()  # a first round finds nothing, then the relay idles for a minute
        time.sleep(0.3)
        for i in range(25):
            spool.add(
                Crawl(crawl_id(f"s{i}", f"https://x/{i}"), market.va.name, lic.name,
                      market.works_a[i % 4], "ai-index", now)
            )  # fmt: skip
        relay.stop()
        assert spool.backlog() == 0
        meter = Client(metering.channel, OPERATOR_KEY, mgrpc.MeteringServiceStub)
        hour = now.replace(minute=0, second=0, microsecond=0)
        rows = meter.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=Timestamp(seconds=int((hour - timedelta(hours=1)).timestamp())),
                end_time=Timestamp(seconds=int((hour + timedelta(hours=2)).timestamp())),
                license=lic.name,
            )
        ).rows
        assert sum(r.quantity for r in rows) == 25
    finally:
        spool.close()
        channel.close()
        metering.channel.close()
        metering.server.stop(0)
