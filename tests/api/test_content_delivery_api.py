"""Licensed content delivery: catalog.GetWorkContent gated by licensing.CheckPermission."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mapi_grpc
from licentia.metering.v1 import resources_pb2 as mres
from sqlalchemy import select

from services.catalog.adapters import tables
from services.catalog.app import open_database
from services.runtime.proto_time import timestamp
from tests.api.market import Market, start_metering, terms
from tests.api.test_licensing_api import fails
from tests.conftest import Client, eventually


def fetch(vendor, work: str, use: str = "ai-input", **kw) -> capi.WorkContent:  # type: ignore[no-untyped-def]
    return vendor.account.client.GetWorkContent(
        capi.GetWorkContentRequest(name=work, use=use, **kw)
    )


def deliveries(market: Market) -> list[tuple[str, str, str, str]]:
    database = open_database(market.catalog.settings)
    try:
        with database.engine.connect() as conn:
            d = tables.deliveries
            rows = conn.execute(
                select(d.c.vendor, d.c.work, d.c.license, d.c.use).order_by(d.c.seq)
            )
            return [tuple(r) for r in rows]
    finally:
        database.dispose()


def test_licensed_vendor_gets_the_text_and_the_delivery_is_recorded(market: Market) -> None:
    lic = market.license(market.va, market.offer(market.pa, terms()))
    work = market.works_a[2]
    content = fetch(market.va, work, request_id="fetch-1")
    assert content.license == lic.name and content.body.startswith("word") and content.version == 1
    again = fetch(market.va, work, request_id="fetch-1")  # a retry is one delivery
    assert again.delivery == content.delivery
    fetch(market.va, work)
    assert deliveries(market) == [("vendors/va", work, lic.name, "ai-input")] * 2


def test_no_license_no_text(market: Market) -> None:
    market.license(market.va, market.offer(market.pa, terms()))
    fails(
        grpc.StatusCode.PERMISSION_DENIED,
        "LICENSE_REQUIRED",
        fetch,
        market.va,
        market.works_a[0],
        "ai-train",
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED, "LICENSE_REQUIRED", fetch, market.vb, market.works_a[0]
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED, "LICENSE_REQUIRED", fetch, market.va, market.works_b[0]
    )
    fails(
        grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED", fetch, market.pb, market.works_a[0]
    )
    fails(grpc.StatusCode.NOT_FOUND, "WORK_NOT_FOUND", fetch, market.va, "publishers/pa/works/nope")
    fails(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_FIELDS",
        fetch,
        market.va,
        market.works_a[0],
        "reading",
    )
    assert deliveries(market) == []


def test_deliveries_become_crawl_usage_once_even_if_metering_starts_late(market: Market) -> None:
    """Deliveries made while metering is down wait; once it is up each is counted once."""
    per_crawl = lres.Price(model=lres.Price.MODEL_PER_CRAWL, currency="USD", amount_micros=5_000)
    lic = market.license(market.va, market.offer(market.pa, terms(price=per_crawl)))
    work = market.works_a[1]
    fetch(market.va, work, request_id="crawl-1")
    fetch(market.va, work, request_id="crawl-1")  # a retried fetch: one delivery
    fetch(market.va, work, request_id="crawl-2")
    time.sleep(0.3)
    assert usage_states(market) == ["", ""]  # metering is not running yet
    metering = start_metering(market)
    try:
        assert eventually(lambda: usage_states(market) == ["ACCEPTED", "ACCEPTED"])
        summary = Client(metering.channel, market.va.account.key, mapi_grpc.MeteringServiceStub)
        rows = summary.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=timestamp(
                    datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                    - timedelta(hours=1)
                ),
                end_time=timestamp(
                    datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                    + timedelta(hours=2)
                ),
                group_by=[mres.DIMENSION_LICENSE, mres.DIMENSION_WORK],
            )
        ).rows
        assert [(r.license, r.work, r.unit, r.quantity) for r in rows] == [
            (lic.name, work, mres.UNIT_CRAWLS, 2)
        ]
    finally:
        metering.channel.close()
        metering.server.stop(0)


def usage_states(market: Market) -> list[str]:
    database = open_database(market.catalog.settings)
    try:
        with database.engine.connect() as conn:
            d = tables.deliveries
            return list(conn.execute(select(d.c.usage_state).order_by(d.c.seq)).scalars())
    finally:
        database.dispose()
