"""Settlement: prints figures; never a pass/fail test.

- Ledger postings in process: balanced three-entry transactions, hash-chained, posted in
  batches of 1,000 per database commit (target on PostgreSQL: 10,000 transactions/s).
- Closing a period: catalog, licensing, metering and settlement as processes; 10
  publishers with 100 works each, 100 vendors each licensing every publisher (1,000
  licenses), and 1,000,000 hourly rollup rows in metering (10 events each, so about 10
  million events), written straight into metering's table: ingestion has its own bench.
  Prices are sub-cent ($0.0004 per use, $0.0015 per 1,000 tokens), so most lines are
  worth a fraction of a cent. Then CloseSettlementPeriod through gRPC (target: 60 s on
  PostgreSQL).

PostgreSQL when TEST_DATABASE_URL is set, else SQLite. BENCH_SETTLEMENT_ROWS scales the
rollup rows (default 1,000,000).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import catalog_service_pb2_grpc as capi_grpc
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import licensing_service_pb2_grpc as lapi_grpc
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.settlement.v1 import settlement_service_pb2 as api
from licentia.settlement.v1 import settlement_service_pb2_grpc as api_grpc
from sqlalchemy import create_engine, text

from bench.harness import OPERATOR, running
from services.metering.adapters import tables as metering_tables
from services.runtime import migrations
from services.runtime.bulk import insert_rows
from services.runtime.database import Database
from services.runtime.proto_time import timestamp
from services.settlement import app as settlement_app
from services.settlement.domain.ledger import REVENUE, Entry, NewTransaction, payable, receivable
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory

URL = os.environ.get("TEST_DATABASE_URL") or os.environ.get("LICENTIA_DATABASE_URL")
ROWS = int(os.environ.get("BENCH_SETTLEMENT_ROWS", "1000000"))
PUBLISHERS, WORKS, VENDORS = 10, 100, 100
OP = [("authorization", f"Bearer {OPERATOR}")]


def bench_postings(batches: int = 30, size: int = 1_000) -> None:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    url = URL or f"sqlite:///{tempfile.mkdtemp(prefix='licentia-bench-')}/settlement.db"
    database = Database(url, f"{prefix}_settlement")
    migrations.upgrade(database, settlement_app.MIGRATIONS)
    uow = UnitOfWorkFactory(database)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for b in range(batches):
        txs = [
            NewTransaction(
                f"bench/{b}/{i}", "USD", "invoice", f"invoices/bench-{b}-{i}", now,
                (
                    Entry(receivable(f"vendors/v{i % 97}"), 1_000 + i, {"line": i}),
                    Entry(payable(f"publishers/p{i % 13}"), -(850 + i)),
                    Entry(REVENUE, -150),
                ),
            )
            for i in range(size)
        ]  # fmt: skip
        with uow() as unit:
            unit.ledger.post(txs)
            unit.commit()
    elapsed = time.perf_counter() - started
    store = "PostgreSQL" if database.is_postgres else "SQLite"
    print(
        f"ledger postings on {store}: {batches * size / elapsed:,.0f} balanced transactions/s "
        f"({batches} commits of {size}, 3 entries each, hash-chained; target 10,000/s)"
    )
    database.dispose()
    _drop(prefix, ["settlement"])


def bench_close() -> None:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    data_dir = tempfile.mkdtemp(prefix="licentia-bench-")
    services = ["catalog", "licensing", "metering", "settlement"]
    with running(services, data_dir, schema_prefix=prefix) as ports:
        started = time.perf_counter()
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        licenses = _market(ports, end - timedelta(days=2))
        print(f"market: {len(licenses):,} licenses in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        rows = _write_rollups(data_dir, prefix, licenses, end)
        print(f"metering: {rows:,} rollup rows written in {time.perf_counter() - started:.1f} s")
        settlement = api_grpc.SettlementServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ports['settlement']}")
        )
        started = time.perf_counter()
        settlement.CloseSettlementPeriod(
            api.CloseSettlementPeriodRequest(
                start_time=timestamp(end - timedelta(days=1)), end_time=timestamp(end)
            ),
            metadata=OP,
            timeout=600,
        )
        elapsed = time.perf_counter() - started
        invoices = settlement.ListInvoices(
            api.ListInvoicesRequest(page_size=1000), metadata=OP
        ).invoices
        [usd] = settlement.GetTrialBalance(api.GetTrialBalanceRequest(), metadata=OP).currencies
        print(
            f"CloseSettlementPeriod: {rows:,} rollup rows, {len(licenses):,} licenses in "
            f"{elapsed:.1f} s ({len(invoices)} invoices, ledger head {usd.head_sequence}, "
            f"balanced {usd.balanced}; target 60 s)"
        )
        statement = settlement.ListStatements(
            api.ListStatementsRequest(page_size=1), metadata=OP
        ).statements[0]
        started = time.perf_counter()
        verdict = settlement.VerifyStatement(
            api.VerifyStatementRequest(name=statement.name), metadata=OP, timeout=600
        )
        print(
            f"VerifyStatement (whole chain): valid {verdict.valid} in "
            f"{time.perf_counter() - started:.1f} s"
        )
    _drop(prefix, services)


def _market(ports: dict[str, int], start: datetime) -> list[tuple[str, str, str, list[str]]]:
    """(license, vendor, publisher, works) for every vendor x publisher."""
    catalog = capi_grpc.CatalogServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports['catalog']}"))
    licensing = lapi_grpc.LicensingServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ports['licensing']}")
    )
    offers: dict[str, tuple[str, list[str]]] = {}
    for p in range(PUBLISHERS):
        publisher = f"publishers/p{p}"
        catalog.CreatePublisher(
            capi.CreatePublisherRequest(
                publisher=cres.Publisher(display_name=f"P{p}"), publisher_id=f"p{p}"
            ),
            metadata=OP,
        )
        holders = [
            cres.RightsHolder(party=publisher, share_bps=8_000),
            cres.RightsHolder(party=f"people/writer-{p}", share_bps=2_000),
        ]
        batch = [
            cres.Work(
                external_id=f"w{w}", title=f"Work {w}", body=f"text {p} {w}", language="en",
                rights_holders=holders if w % 2 else [],
            )
            for w in range(WORKS)
        ]  # fmt: skip
        results = catalog.ImportWorks(
            iter([capi.ImportWorksRequest(parent=publisher, works=batch)]), metadata=OP
        )
        works = [r.work for response in results for r in response.results]
        price = (
            # Sub-cent prices, as news is priced: each line is a fraction of a cent and
            # only the license's total is rounded.
            lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=400)
            if p % 2
            else lres.Price(
                model=lres.Price.MODEL_PER_1K_TOKENS, currency="USD", amount_micros=1_500,
                tiers=[lres.VolumeTier(from_quantity=5_000_000, amount_micros=1_000)],
                period_cap_micros=900_000,
            )
        )  # fmt: skip
        offer = licensing.CreateOffer(
            lapi.CreateOfferRequest(
                parent=publisher,
                offer=lres.Offer(
                    display_name="Bench",
                    terms=lres.Terms(
                        permitted_uses=["ai-input"], price=price, start_time=timestamp(start)
                    ),
                ),
            ),
            metadata=OP,
        )
        licensing.PublishOffer(lapi.PublishOfferRequest(name=offer.name), metadata=OP)
        offers[publisher] = (offer.name, works)
    licenses = []
    for v in range(VENDORS):
        vendor = f"vendors/v{v}"
        catalog.CreateVendor(
            capi.CreateVendorRequest(vendor=cres.Vendor(display_name=f"V{v}"), vendor_id=f"v{v}"),
            metadata=OP,
        )
        key = catalog.CreateApiKey(capi.CreateApiKeyRequest(parent=vendor), metadata=OP).key
        for publisher, (offer, works) in offers.items():
            proposal = licensing.CreateProposal(
                lapi.CreateProposalRequest(offer=offer),
                metadata=[("authorization", f"Bearer {key}")],
            )
            licenses.append((proposal.license, vendor, publisher, works))
    return licenses


def _write_rollups(
    data_dir: str, prefix: str, licenses: list[tuple[str, str, str, list[str]]], end: datetime
) -> int:
    """Hourly rollups as metering's ingestion leaves them (bench seeding only: no
    service reads another's tables)."""
    per_license = max(1, ROWS // len(licenses))
    hours = max(1, per_license // WORKS)
    rng = random.Random(7)
    url = URL or f"sqlite:///{data_dir}/metering.db"
    database = Database(url, f"{prefix}_metering")
    written = 0
    with database.write_transaction() as conn:
        for license_name, vendor, publisher, works in licenses:
            unit = "uses" if int(publisher[-1]) % 2 else "tokens"
            rows = [
                {
                    "vendor": vendor, "publisher": publisher, "license": license_name,
                    "work": work, "use": "ai-input", "unit": unit,
                    "hour": end - timedelta(hours=1 + h), "late_seal": 0,
                    "quantity": rng.randint(1, 40) * (1 if unit == "uses" else 700),
                    "events": 10,
                }
                for work in works
                for h in range(hours)
            ]  # fmt: skip
            insert_rows(conn, metering_tables.usage_hourly, rows)
            written += len(rows)
    database.dispose()
    return written


def _drop(prefix: str, services: list[str]) -> None:
    if not URL:
        return
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for name in services:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}_{name}" CASCADE'))
    engine.dispose()


if __name__ == "__main__":
    bench_postings()
    bench_close()
