"""Licensed content delivery: catalog.GetWorkContent gated by licensing.CheckPermission."""

from __future__ import annotations

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from sqlalchemy import select

from services.catalog.adapters import tables
from services.catalog.app import open_database
from tests.api.market import Market, terms
from tests.api.test_licensing_api import fails


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
