"""The five services in process on one database, with a small marketplace in them, for
the fuzz suite: started once per store (SQLite, PostgreSQL) for every RPC's examples."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from licentia.settlement.v1 import settlement_service_pb2_grpc as sgrpc
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import Engine

from services.provenance import app as provenance_app
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.proto_time import timestamp
from services.settlement import app as settlement_app
from tests.api.market import Market, start_market, start_metering, terms
from tests.conftest import OPERATOR_KEY, SERVICE_TOKEN, Client, ServiceHarness, start_service


@dataclass
class Marketplace:
    market: Market
    harnesses: dict[str, ServiceHarness]
    keys: dict[str, str]
    names: list[str]
    engines: dict[str, Engine] = field(default_factory=dict)

    def counts(self, service: str) -> dict[str, int]:
        """Rows per table of one service's database: what a refused write must not change."""
        engine = self.engines[service]
        counted = {}
        with engine.connect() as conn:
            schema = conn.dialect.default_schema_name
            for table in sorted(inspect(conn).get_table_names(schema=schema)):
                if table in _MOVED_BY_BACKGROUND_WORK or table.startswith("alembic"):
                    continue
                counted[table] = conn.execute(
                    select(func.count()).select_from(text(f'"{table}"'))
                ).scalar_one()
        return counted


# Tables that background work fills whatever a call does (relays, indexing, partitions).
_MOVED_BY_BACKGROUND_WORK = {"outbox_cursor", "relay_cursors", "sentence_vectors"}


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def marketplace(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Marketplace]:
    base: dict[str, Any] = dict(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        operator_api_key=OPERATOR_KEY,
        service_token=SERVICE_TOKEN,
        trace_sample_ratio=0.0,
        shutdown_grace_seconds=1.0,
        max_workers=8,
        rate_limit_per_second=1_000_000,
        rate_limit_burst=1_000_000,
    )
    schema = ""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        schema = f"fuzz_{uuid.uuid4().hex[:10]}"
        settings = Settings(**base, database_url=url, database_schema=schema)
    else:
        settings = Settings(**base)
    markets = start_market(settings)
    market = next(markets)
    metering = start_metering(market)
    wired = market.catalog.settings.with_ports(
        catalog=market.catalog.server.port,
        licensing=market.licensing.server.port,
        metering=metering.server.port,
    )
    # Semantic mode on: its sentence splitting and model take any text too.
    provenance = start_service(
        provenance_app, wired.model_copy(update={"provenance_semantic": True})
    )
    settlement = start_service(settlement_app, wired)
    harnesses = {
        "catalog": market.catalog,
        "licensing": market.licensing,
        "metering": metering,
        "provenance": provenance,
        "settlement": settlement,
    }
    offer = market.offer(market.pa, terms())
    lic = market.license(market.va, offer)
    names = [
        market.pa.name, market.pb.name, market.va.name, market.vb.name, *market.works_a[:2],
        offer.name, lic.name, "settlementPeriods/1", "people/jane", "USD", "ai-input",
        "licenses/-", "publishers/-",
    ]  # fmt: skip
    keys = {
        "operator": OPERATOR_KEY,
        "publisher": market.pa.account.key,
        "vendor": market.va.account.key,
    }
    place = Marketplace(market, harnesses, keys, names)
    for service in SERVICE_NAMES:
        harness = harnesses[service]
        place.engines[service] = _engine(harness.settings, service, schema)
    # A closed period, so that settlement's reads find documents.

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    Client(settlement.channel, OPERATOR_KEY, sgrpc.SettlementServiceStub).CloseSettlementPeriod(
        sapi.CloseSettlementPeriodRequest(
            start_time=timestamp(hour - timedelta(hours=2)),
            end_time=timestamp(hour - timedelta(hours=1)),
        )
    )
    yield place
    for engine in place.engines.values():
        engine.dispose()
    for harness in (settlement, provenance, metering):
        harness.channel.close()
        harness.server.stop(0)
    next(markets, None)  # the market's own clean-up
    if schema:
        engine = create_engine(
            settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        )
        with engine.begin() as conn:
            for service in SERVICE_NAMES:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_{service}" CASCADE'))
        engine.dispose()


def _engine(settings: Settings, service: str, schema: str) -> Engine:
    if not schema:
        return create_engine(f"sqlite:///{settings.data_dir}/{service}.db")
    url = str(settings.database_url).replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}_{service}"})
