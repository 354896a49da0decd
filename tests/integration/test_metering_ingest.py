"""Ingestion into the real database (SQLite and PostgreSQL), licensing decisions faked:
rollups always equal the raw events, and each id is counted once, whatever the batches."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.metering import app as metering_app
from services.metering.adapters import tables as t
from services.metering.domain.decisions import Decision
from services.metering.domain.events import Status, Unit, UsageEvent, hour_of
from services.metering.service_layer.ingest import IngestService
from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.principal import Principal, Role

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
LICENSE = "licenses/l1"
VENDORS = (f"vendors/v{i}" for i in itertools.count())


class AllowEverything:
    def decide(self, vendor: str, queries: Sequence[tuple[str, str, datetime]]) -> list[Decision]:
        return [Decision(True, LICENSE) for _ in queries]


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = metering_app.open_database(settings)
    migrations.upgrade(database, metering_app.MIGRATIONS)
    yield database
    database.dispose()


EVENTS = st.builds(
    UsageEvent,
    id=st.sampled_from([f"id{i}" for i in range(12)]),
    license=st.just(LICENSE),
    work=st.sampled_from(
        ["publishers/a/works/w1", "publishers/a/works/w2", "publishers/b/works/w3"]
    ),
    use=st.sampled_from(["ai-input", "ai-train"]),
    unit=st.sampled_from(list(Unit)),
    quantity=st.integers(-2, 50),
    occur_time=st.integers(0, 72).map(lambda h: NOW - timedelta(hours=h, minutes=h % 7)),
    source=st.sampled_from(["a", "b"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(EVENTS, max_size=20), min_size=1, max_size=5))
def test_rollups_equal_raw_events_and_each_id_counts_once(
    database: Database, batches: list[list[UsageEvent]]
) -> None:
    vendor = next(VENDORS)
    service = IngestService(UnitOfWorkFactory(database), AllowEverything())
    principal = Principal(Role.VENDOR, vendor)
    first_accepted: dict[str, UsageEvent] = {}
    for batch in batches:
        for event, result in zip(batch, service.record(principal, batch), strict=True):
            if result.status is Status.ACCEPTED:
                assert event.id not in first_accepted
                first_accepted[event.id] = event
            elif result.status is Status.DUPLICATE:
                assert first_accepted[event.id].digest() == event.digest()
            elif result.status is Status.CONFLICT and event.id in first_accepted:
                assert first_accepted[event.id].digest() != event.digest()

    expected: Counter[tuple[str, ...]] = Counter()
    for e in first_accepted.values():
        assert e.unit is not None and e.occur_time is not None
        expected[(e.work, e.use, e.unit.value, hour_of(e.occur_time).isoformat())] += e.quantity
    with database.engine.connect() as conn:
        raw = conn.execute(
            select(
                t.usage_events.c.work,
                t.usage_events.c.use,
                t.usage_events.c.unit,
                t.usage_events.c.occur_time,
                t.usage_events.c.quantity,
            ).where(t.usage_events.c.vendor == vendor)
        ).all()
        rollups = conn.execute(
            select(
                t.usage_hourly.c.work,
                t.usage_hourly.c.use,
                t.usage_hourly.c.unit,
                t.usage_hourly.c.hour,
                t.usage_hourly.c.quantity,
                t.usage_hourly.c.events,
            ).where(t.usage_hourly.c.vendor == vendor)
        ).all()
        keys = conn.execute(
            select(func.count()).select_from(t.event_keys).where(t.event_keys.c.vendor == vendor)
        ).scalar_one()
    from_raw: Counter[tuple[str, ...]] = Counter()
    counts: Counter[tuple[str, ...]] = Counter()
    for work, use, unit, at, quantity in raw:
        key = (work, use, unit, hour_of(at).isoformat())
        from_raw[key] += quantity
        counts[key] += 1
    from_rollups = Counter({(w, u, n, h.isoformat()): q for w, u, n, h, q, _ in rollups})
    assert from_rollups == from_raw == expected
    assert {(w, u, n, h.isoformat()): c for w, u, n, h, _, c in rollups} == dict(counts)
    assert keys == len(raw) == len(first_accepted)
