"""Every filter of the main listings is served by an index, on PostgreSQL.

The statements are the ones the repositories really send, captured as they run. Each is
explained with sequential scans disabled: the planner then scans a table in full only
when no index can serve the statement, so a `Seq Scan` in the plan names a missing
index; and the column a listing filters on must be an index condition (an index walked
in full with the filter applied row by row is a full scan too).

The listings: catalog ListWorks (each filter, and every publisher's); licensing
ListOffers (a publisher's, every publisher's published ones), ListLicenses and
ListProposals (by party, by offer), and the commission rates shown with offers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import create_engine, event, text

from services.catalog import app as catalog_app
from services.catalog.domain.model import WorkFilter
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory as CatalogUow
from services.licensing import app as licensing_app
from services.licensing.domain.licenses import LicenseFilter, LicenseState
from services.licensing.domain.negotiation import ProposalState
from services.licensing.domain.offers import OfferFilter, OfferState
from services.licensing.service_layer.unit_of_work import UnitOfWorkFactory as LicensingUow
from services.runtime.bootstrap import ready_database
from services.runtime.config import Settings
from services.runtime.database import Database

pytestmark = pytest.mark.postgres
T = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def pg_settings(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    schema = f"plans_{uuid.uuid4().hex[:10]}"
    yield Settings(data_dir=tmp_path, database_url=postgres_url, database_schema=schema)
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for service in ("catalog", "licensing"):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_{service}" CASCADE'))
    engine.dispose()


Listing = tuple[Callable[[], object], str]  # run it; the column an index must serve


def plans(database: Database, listings: dict[str, Listing]) -> dict[str, str]:
    """Each listing run for real; the plan of every statement it sent, by listing."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    found: dict[str, str] = {}
    try:
        for label, (listing, _column) in listings.items():
            sent.clear()
            listing()
            assert sent, f"{label}: no statement captured"
            statements = list(sent)
            with database.engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                with driver.cursor() as cursor:
                    cursor.execute("SET enable_seqscan = off")
                    lines = []
                    for statement, parameters in statements:
                        cursor.execute("EXPLAIN " + statement, parameters)
                        lines += [row[0] for row in cursor.fetchall()]
                    cursor.execute("RESET enable_seqscan")
            found[label] = "\n".join(lines)
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    return found


def served_by_indexes(database: Database, listings: dict[str, Listing]) -> None:
    found = plans(database, listings)
    bad = {}
    for label, plan in found.items():
        column = listings[label][1]
        conditions = [line for line in plan.splitlines() if "Index Cond" in line]
        if "Seq Scan" in plan or not any(column in line for line in conditions):
            bad[label] = plan
    assert not bad, "listings no index serves:\n" + "\n\n".join(
        f"{label} (on {listings[label][1]}):\n{plan}" for label, plan in bad.items()
    )


def test_catalog_listings_use_indexes(pg_settings: Settings) -> None:
    database = ready_database(pg_settings, "catalog", catalog_app.MIGRATIONS, TracerProvider())
    uow = CatalogUow(database)
    filters = {
        "a publisher's works": (WorkFilter("p"), "publisher_id"),
        "every publisher's works": (WorkFilter(None), "seq"),
        "by section": (WorkFilter("p", section="politics"), "section"),
        "by tag": (WorkFilter("p", tag="wire"), "tag"),
        "published after": (WorkFilter(None, published_after=T), "publish_time"),
        "published before": (WorkFilter(None, published_before=T), "publish_time"),
        "updated since": (WorkFilter(None, updated_since=T), "update_time"),
    }

    def listing(where: WorkFilter) -> Callable[[], object]:
        def run() -> object:
            with uow(write=False, autocommit=True) as u:
                return u.works.search(where, 10, 50, with_body=False)

        return run

    try:
        served_by_indexes(
            database, {k: (listing(where), column) for k, (where, column) in filters.items()}
        )
    finally:
        database.dispose()


def test_licensing_listings_use_indexes(pg_settings: Settings) -> None:
    database = ready_database(pg_settings, "licensing", licensing_app.MIGRATIONS, TracerProvider())
    uow = LicensingUow(database)

    def run(read: Callable[[Any], object], column: str) -> Listing:
        def listing() -> object:
            with uow(write=False, autocommit=True) as u:
                return read(u)

        return listing, column

    listings = {
        "a publisher's offers": run(
            lambda u: u.offers.search(OfferFilter("p", None), None, 50), "publisher_id"
        ),
        "every publisher's published offers": run(
            lambda u: u.offers.search(OfferFilter(None, OfferState.PUBLISHED), ["p", "o"], 50),
            "state",
        ),
        "a vendor's licenses": run(
            lambda u: u.licenses.search(LicenseFilter(vendor="vendors/v"), None, 50), "vendor"
        ),
        "a publisher's licenses by state": run(
            lambda u: u.licenses.search(
                LicenseFilter(publisher="publishers/p", state=LicenseState.ACTIVE), None, 50
            ),
            "publisher",
        ),
        "a party's proposals": run(
            lambda u: u.proposals.search("vendors/v", "", ProposalState.OPEN, None, 50), "vendor"
        ),
        "an offer's proposals": run(
            lambda u: u.proposals.search(None, "publishers/p/offers/o", None, None, 50), "offer"
        ),
        "commission rates of a page's publishers": run(
            lambda u: u.offers.commission_overrides({"p", "q"}), "publisher_id"
        ),
    }
    try:
        served_by_indexes(database, listings)
    finally:
        database.dispose()
