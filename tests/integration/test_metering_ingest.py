"""Ingestion into the real database (SQLite and PostgreSQL), licensing decisions faked:
rollups always equal the raw events, and each id is counted once, whatever the batches."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, func, select, text, update

from services.metering import app as metering_app
from services.metering.adapters import tables as t
from services.metering.adapters.partitions import ensure_partitions
from services.metering.domain.decisions import Decision
from services.metering.domain.events import (
    Correction,
    Reason,
    Status,
    TimeWindow,
    Unit,
    UsageEvent,
    hour_of,
)
from services.metering.domain.seals import EPOCH
from services.metering.service_layer.billing import BillingService
from services.metering.service_layer.ingest import IngestService
from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.runtime.principal import OPERATOR, Principal, Role
from tests.integration.conftest import migrated

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
LICENSE = "licenses/l1"
VENDORS = (f"vendors/v{i}" for i in itertools.count())


class AllowEverything:
    def decide(
        self, vendor: str, queries: Sequence[tuple[str, str, datetime, str]]
    ) -> list[Decision]:
        return [Decision(True, LICENSE) for _ in queries]


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    yield from migrated(metering_app, settings)


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


HOUR_NOW = NOW.replace(minute=0)
SEAL_ENDS = [HOUR_NOW - timedelta(hours=48), HOUR_NOW - timedelta(hours=24), HOUR_NOW]
ACTIONS = st.lists(
    st.one_of(st.lists(EVENTS, min_size=1, max_size=15), st.just("seal")), max_size=10
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_seals_bill_every_accepted_event_exactly_once(
    database: Database, actions: list[list[UsageEvent] | str]
) -> None:
    """Batches and seals interleaved: each accepted event is billed once, on time in its
    period if it came before that period's seal, else late right after the seal it missed."""
    _forget_usage(database)  # seals are global: every example starts unsealed
    vendor = next(VENDORS)
    uow = UnitOfWorkFactory(database)
    ingest, billing = IngestService(uow, AllowEverything()), BillingService(uow)
    principal = Principal(Role.VENDOR, vendor)
    sealed = 0
    accepted: Counter[tuple[str, str, str]] = Counter()
    late_for: dict[int, Counter[tuple[str, str, str]]] = {}
    for action in actions:
        if isinstance(action, str):
            if sealed < len(SEAL_ENDS):
                sealed += 1
                billing.seal(OPERATOR, sealed, SEAL_ENDS[sealed - 1])
                billing.seal(OPERATOR, sealed, SEAL_ENDS[sealed - 1])  # idempotent
            continue
        for event, result in zip(action, ingest.record(principal, action), strict=True):
            if result.status is Status.ACCEPTED:
                assert event.unit and event.occur_time
                key = (event.work, event.use, event.unit.value)
                accepted[key] += event.quantity
                if sealed and event.occur_time < SEAL_ENDS[sealed - 1]:
                    late_for.setdefault(sealed, Counter())[key] += event.quantity
    billed: Counter[tuple[str, str, str]] = Counter()
    late_billed: dict[int, Counter[tuple[str, str, str]]] = {}
    starts = [None, *SEAL_ENDS[:sealed]]
    ends = [*SEAL_ENDS[:sealed], HOUR_NOW + timedelta(days=1)]
    for period, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        for page in billing.billable(OPERATOR, start, end, period - 1, vendor):
            for row in page:
                billed[(row.work, row.use, row.unit)] += row.quantity
                if row.hour is not None:
                    assert row.hour < SEAL_ENDS[period - 2]
                    late = late_billed.setdefault(period - 1, Counter())
                    late[(row.work, row.use, row.unit)] += row.quantity
    assert billed == accepted
    assert late_billed == late_for


def test_seals_are_numbered_in_order_and_only_move_forward(database: Database) -> None:
    _forget_usage(database)
    billing = BillingService(UnitOfWorkFactory(database))
    with pytest.raises(FailedPrecondition) as gap:
        billing.seal(OPERATOR, 2, SEAL_ENDS[0])
    assert gap.value.reason == "SEAL_OUT_OF_ORDER"
    first = billing.seal(OPERATOR, 1, SEAL_ENDS[1])
    assert billing.seal(OPERATOR, 1, SEAL_ENDS[1]).seal_time == first.seal_time
    for seal, end, reason in [
        (1, SEAL_ENDS[2], "SEAL_MISMATCH"),
        (2, SEAL_ENDS[0], "SEAL_NOT_FORWARD"),
    ]:
        with pytest.raises(FailedPrecondition) as refused:
            billing.seal(OPERATOR, seal, end)
        assert refused.value.reason == reason
    with pytest.raises(InvalidArgument):
        billing.seal(OPERATOR, 2, SEAL_ENDS[2] + timedelta(minutes=30))
    with pytest.raises(PermissionDenied):
        billing.seal(Principal(Role.VENDOR, "vendors/v"), 2, SEAL_ENDS[2])


def _forget_usage(database: Database) -> None:
    with database.write_transaction() as conn:
        for table in (t.usage_hourly, t.usage_events, t.event_keys, t.usage_seals):
            conn.execute(delete(table))
        conn.execute(update(t.usage_fence).values(seal=0, end_time=EPOCH))


CORRECTIONS = st.lists(
    st.lists(
        st.one_of(
            EVENTS.map(lambda e: ("use", e)),
            st.tuples(
                st.sampled_from(["void", "amend"]),
                st.sampled_from([f"id{i}" for i in range(12)] + [f"c{i}" for i in range(8)]),
                st.sampled_from([f"c{i}" for i in range(8)]),
                st.integers(1, 30),
            ),
        ),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=CORRECTIONS)
def test_corrections_count_the_difference_once_and_only_on_recorded_events(
    database: Database, batches: list[list[tuple[object, ...]]]
) -> None:
    """Voids and amends of events from earlier batches: rollups always equal what the
    live events now say, each event is corrected at most once, unknown ids are refused."""
    vendor = next(VENDORS)
    service = IngestService(UnitOfWorkFactory(database), AllowEverything())
    principal = Principal(Role.VENDOR, vendor)
    # What the model knows: each recorded id's dims, stated quantity, and whether corrected.
    recorded: dict[str, tuple[tuple[str, str, str, datetime], int]] = {}
    corrected: set[str] = set()
    for raw in batches:
        batch = [_as_event(item) for item in raw]
        known_before = dict(recorded)
        for event, result in zip(batch, service.record(principal, batch), strict=True):
            if event.correction is None:
                if result.status is Status.ACCEPTED:
                    assert event.unit and event.occur_time
                    dims = (event.work, event.use, event.unit.value, hour_of(event.occur_time))
                    recorded[event.id] = (dims, event.quantity)
                continue
            target = event.corrects
            if result.status is Status.ACCEPTED:
                assert target in known_before and target not in corrected
                corrected.add(target)
                dims = recorded[target][0]
                stated = 0 if event.correction is Correction.VOID else event.quantity
                recorded[event.id] = (dims, stated)
            elif result.status is Status.REJECTED and result.reason is Reason.NO_SUCH_EVENT:
                assert target not in known_before
            elif result.status is Status.REJECTED and result.reason is Reason.INVALID_EVENT:
                assert target == event.id  # an event cannot correct itself
            elif result.status is Status.REJECTED:
                assert result.reason is Reason.ALREADY_CORRECTED and target in corrected
    live: Counter[tuple[str, ...]] = Counter()
    for event_id, (dims, stated) in recorded.items():
        if event_id not in corrected:
            live[(dims[0], dims[1], dims[2], dims[3].isoformat())] += stated
    with database.engine.connect() as conn:
        rows = conn.execute(
            select(t.usage_hourly.c.work, t.usage_hourly.c.use, t.usage_hourly.c.unit,
                   t.usage_hourly.c.hour, t.usage_hourly.c.quantity)
            .where(t.usage_hourly.c.vendor == vendor)
        ).all()  # fmt: skip
    from_rollups: Counter[tuple[str, ...]] = Counter()
    for work, use, unit, hour, quantity in rows:
        from_rollups[(work, use, unit, hour.isoformat())] += quantity
    assert +from_rollups == +live and -from_rollups == Counter()


def _as_event(item: tuple[object, ...]) -> UsageEvent:
    if item[0] == "use":
        return item[1]  # type: ignore[return-value]
    kind, target, own_id, quantity = item
    correction = Correction.VOID if kind == "void" else Correction.AMEND
    return UsageEvent(
        id=str(own_id), license="", work="", use="", unit=None,
        quantity=0 if correction is Correction.VOID else int(quantity),  # type: ignore[call-overload]
        occur_time=None, correction=correction, corrects=str(target),
    )  # fmt: skip


@pytest.mark.postgres
def test_raw_events_are_partitioned_by_month_on_postgresql(postgres_url: str) -> None:
    schema = f"parts_{uuid.uuid4().hex[:8]}"
    database = Database(postgres_url, schema)
    migrations.upgrade(database, metering_app.MIGRATIONS)
    try:
        partitions = text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'usage_events'::regclass ORDER BY 1"
        )
        with database.engine.connect() as conn:
            names = list(conn.execute(partitions).scalars())
        at = datetime.now(UTC) - timedelta(minutes=1)
        this_month = f"usage_events_{at:%Y_%m}"
        assert "usage_events_default" in names and this_month in names and len(names) == 7
        service = IngestService(UnitOfWorkFactory(database), AllowEverything())
        event = UsageEvent("p1", LICENSE, "publishers/a/works/w1", "ai-input", Unit.USES, 3, at)
        [result] = service.record(Principal(Role.VENDOR, "vendors/p"), [event])
        assert result.status is Status.ACCEPTED
        with database.engine.connect() as conn:
            where = conn.execute(
                text("SELECT tableoid::regclass::text FROM usage_events WHERE event_id = 'p1'")
            ).scalar_one()
        assert where.endswith(this_month)
        with database.write_transaction() as conn:
            later = ensure_partitions(conn, (at + timedelta(days=120)).date())
            assert ensure_partitions(conn, (at + timedelta(days=120)).date()) == []
        assert later and all(name.startswith("usage_events_") for name in later)
        # Replicas keeping partitions at the same moment: each month is made once, and no
        # replica fails on a table another has just made.
        further = (at + timedelta(days=240)).date()
        made: list[list[str]] = []
        errors: list[BaseException] = []
        ready = threading.Barrier(4)

        def keep() -> None:
            try:
                ready.wait()
                with database.write_transaction() as conn:
                    made.append(ensure_partitions(conn, further))
            except BaseException as error:  # reported below
                errors.append(error)

        keepers = [threading.Thread(target=keep) for _ in range(4)]
        for keeper in keepers:
            keeper.start()
        for keeper in keepers:
            keeper.join(60)
        assert errors == []
        created = [name for names in made for name in names]
        assert created and len(created) == len(set(created))
    finally:
        database.dispose()
        engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_once_a_seal_returns_the_sealed_usage_never_changes(database: Database) -> None:
    """Batches for sealed time keep arriving from several threads while the seal is made:
    what settlement reads right after the seal is what it would read at any later time."""
    _forget_usage(database)
    uow = UnitOfWorkFactory(database)
    ingest, billing = IngestService(uow, AllowEverything()), BillingService(uow)
    end = HOUR_NOW - timedelta(hours=1)
    start_line = threading.Barrier(5)

    def send(thread: int) -> None:
        principal = Principal(Role.VENDOR, f"vendors/t{thread}")
        start_line.wait()
        for batch in range(15):
            ingest.record(
                principal,
                [
                    UsageEvent(f"e{batch}-{i}", LICENSE, "publishers/a/works/w1", "ai-input",
                               Unit.USES, 1, end - timedelta(minutes=20))
                    for i in range(40)
                ],
            )  # fmt: skip

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    start_line.wait()
    time.sleep(0.05)
    billing.seal(OPERATOR, 1, end)

    def on_time() -> int:
        rows = [r for page in billing.billable(OPERATOR, None, end, 0) for r in page]
        return sum(r.quantity for r in rows)

    right_after = on_time()
    for thread in threads:
        thread.join(60)
    late = sum(r.quantity for page in billing.billable(OPERATOR, end, HOUR_NOW, 1) for r in page)
    assert on_time() == right_after
    assert right_after + late == 4 * 15 * 40


class DenyEverything:
    def decide(
        self, vendor: str, queries: Sequence[tuple[str, str, datetime, str]]
    ) -> list[Decision]:
        return [Decision(False, LICENSE, "REVOKED", "revoked") for _ in queries]


def test_a_resent_event_stays_a_duplicate_after_its_window_and_license_have_passed(
    database: Database,
) -> None:
    """A retry of an accepted event is DUPLICATE even when, judged afresh, it would now be
    refused (older than the back-dating window, license revoked since); a changed payload
    under its id is judged afresh, and nothing is counted twice."""
    vendor = Principal(Role.VENDOR, next(VENDORS))
    event = UsageEvent(
        "e1", LICENSE, "publishers/a/works/w1", "ai-input", Unit.USES, 3, NOW - timedelta(hours=2)
    )
    changed = UsageEvent(
        "e1", LICENSE, "publishers/a/works/w1", "ai-input", Unit.USES, 4, NOW - timedelta(hours=2)
    )
    uow = UnitOfWorkFactory(database)
    assert [r.status for r in IngestService(uow, AllowEverything()).record(vendor, [event])] == [
        Status.ACCEPTED
    ]
    later = IngestService(uow, DenyEverything(), TimeWindow(back=timedelta(minutes=1)))
    results = later.record(vendor, [event, changed, event])
    assert [r.status for r in results] == [Status.DUPLICATE, Status.REJECTED, Status.DUPLICATE]
    assert results[1].reason is Reason.TOO_OLD
    fresh = UsageEvent(
        "e2", LICENSE, "publishers/a/works/w1", "ai-input", Unit.USES, 3, NOW - timedelta(hours=2)
    )
    assert later.record(vendor, [fresh])[0].reason is Reason.TOO_OLD
    with database.engine.connect() as conn:
        counted = conn.execute(
            select(func.sum(t.usage_events.c.quantity)).where(
                t.usage_events.c.vendor == vendor.account
            )
        ).scalar_one()
    assert counted == 3


def test_payloads_version_1_confused_are_told_apart_and_old_keys_keep_their_answers(
    database: Database,
) -> None:
    """Attributes that version 1 joined into one text, and times 1 ns apart, are another
    payload: CONFLICT. A key stored under version 1 (before the upgrade) still answers
    its retries DUPLICATE and another payload CONFLICT."""
    vendor = Principal(Role.VENDOR, next(VENDORS))
    at = NOW - timedelta(hours=1)

    def usage(event_id: str, nanos: int = 0, **attributes: str) -> UsageEvent:
        return UsageEvent(
            event_id, LICENSE, "publishers/a/works/w1", "ai-input", Unit.USES, 1, at,
            attributes=tuple(sorted(attributes.items())), occur_nanos=nanos,
        )  # fmt: skip

    service = IngestService(UnitOfWorkFactory(database), AllowEverything())
    first = service.record(vendor, [usage("a", a="1\x1fb=2"), usage("t", nanos=0)])
    assert [r.status for r in first] == [Status.ACCEPTED] * 2
    again = service.record(vendor, [usage("a", a="1", b="2"), usage("t", nanos=999)])
    assert [r.status for r in again] == [Status.CONFLICT] * 2

    old = usage("old", a="1\x1fb=2")
    with database.engine.begin() as conn:
        conn.execute(
            t.event_keys.insert().values(
                vendor=vendor.account,
                event_id="old",
                digest=old.legacy_digest(),
                record_time=NOW,
                digest_version=1,
            )
        )
    answers = service.record(vendor, [old, usage("old", a="2")])
    assert [r.status for r in answers] == [Status.DUPLICATE, Status.CONFLICT]


def test_the_upgrade_marks_keys_stored_before_it_as_version_1(settings: Settings) -> None:
    database = metering_app.open_database(settings)
    try:
        migrations.upgrade(database, metering_app.MIGRATIONS, "0001")
        old = UsageEvent("e1", LICENSE, "publishers/a/works/w1", "ai-input", Unit.USES, 1, NOW)
        with database.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO event_keys (vendor, event_id, digest, record_time) "
                    "VALUES ('vendors/x', 'e1', :digest, :now)"
                ),
                {"digest": old.legacy_digest(), "now": NOW},
            )
        migrations.upgrade(database, metering_app.MIGRATIONS)
        service = IngestService(UnitOfWorkFactory(database), AllowEverything())
        vendor = Principal(Role.VENDOR, "vendors/x")
        assert [r.status for r in service.record(vendor, [old])] == [Status.DUPLICATE]
        with database.engine.connect() as conn:
            versions = conn.execute(select(t.event_keys.c.digest_version)).scalars().all()
        assert versions == [1]
    finally:
        database.dispose()
