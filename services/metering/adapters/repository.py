"""Storage of usage: keys, raw events and hourly rollups, written in one transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from services.metering.adapters import tables as t
from services.metering.domain.events import (
    DIGEST_VERSION,
    Recorded,
    Unit,
    UsageEvent,
    stated_quantity,
)
from services.metering.domain.rollups import RollupKey, Totals, sorted_keys
from services.metering.domain.seals import Fence
from services.runtime.database import upsert_into

T = TypeVar("T")
# One lock per metering schema (installations can share a database).
_FENCE_KEY = "hashtext(current_schema() || '.usage_fence')"
_FENCE_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({_FENCE_KEY})")
_FENCE_EXCLUSIVE = text(f"SELECT pg_advisory_xact_lock({_FENCE_KEY})")
_CHUNK = 500  # rows per statement: well under every driver's parameter limit


@cache
def _writes(dialect_name: str) -> tuple[Executable, Executable]:
    """The key claim and the rollup upsert for a dialect: built once per process, not
    for every unit of work (building them took a twentieth of a batch's time)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    claim = dialect.insert(t.event_keys).on_conflict_do_nothing().returning(t.event_keys.c.event_id)
    upsert = dialect.insert(t.usage_hourly)
    add_to_rollups = upsert.on_conflict_do_update(
        index_elements=[c.name for c in t.usage_hourly.primary_key.columns],
        set_={
            "quantity": t.usage_hourly.c.quantity + upsert.excluded.quantity,
            "events": t.usage_hourly.c.events + upsert.excluded.events,
        },
    )
    return claim, add_to_rollups


class UsageRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._claim, self._add_to_rollups = _writes(connection.dialect.name)

    def claim(
        self, vendor: str, events: Sequence[UsageEvent], now: datetime
    ) -> tuple[set[str], dict[str, bytes]]:
        """Insert the events' keys; returns the ids newly claimed, and for the others the
        digest stored when they were first accepted."""
        if not events:
            return set(), {}
        rows = [
            {
                "vendor": vendor,
                "event_id": e.id,
                "digest": e.digest(),
                "record_time": now,
                "digest_version": DIGEST_VERSION,
            }
            for e in events
        ]
        # One cached statement, sent as multi-row batches by SQLAlchemy's insertmanyvalues.
        claimed = set(self._conn.execute(self._claim, rows).scalars())
        others = [e.id for e in events if e.id not in claimed]
        return claimed, self.digests(vendor, others)

    def release(self, vendor: str, event_ids: list[str]) -> None:
        """Give back keys claimed in this transaction for events not recorded after all."""
        k = t.event_keys.c
        for chunk in _chunks(event_ids):
            self._conn.execute(
                delete(t.event_keys).where(k.vendor == vendor, k.event_id.in_(chunk))
            )

    def digests(self, vendor: str, event_ids: list[str]) -> dict[str, bytes]:
        """The stored digest of each id found, its version byte first."""
        found: dict[str, bytes] = {}
        k = t.event_keys.c
        for chunk in _chunks(event_ids):
            rows = self._conn.execute(
                select(k.event_id, k.digest_version, k.digest).where(
                    k.vendor == vendor, k.event_id.in_(chunk)
                )
            )
            found.update((i, bytes([version]) + bytes(d)) for i, version, d in rows)
        return found

    def recorded(self, vendor: str, event_ids: list[str]) -> dict[str, Recorded]:
        """The events these ids name (for corrections), as the vendor recorded them."""
        e = t.usage_events.c
        found: dict[str, Recorded] = {}
        for chunk in _chunks(event_ids):
            rows = self._conn.execute(
                select(e.event_id, e.license, e.work, e.use, e.unit, e.occur_time,
                       e.stated_quantity)
                .where(e.vendor == vendor, e.event_id.in_(chunk))
            )  # fmt: skip
            for row in rows:
                found[row.event_id] = Recorded(
                    row.license, row.work, row.use, Unit(row.unit), row.occur_time,
                    row.stated_quantity,
                )  # fmt: skip
        return found

    def claim_corrections(self, vendor: str, pairs: list[tuple[str, str]]) -> set[str]:
        """Mark each (original, correction) pair; returns the originals already corrected
        by another event (a correction retried under its own id is not refused here)."""
        if not pairs:
            return set()
        rows = [{"vendor": vendor, "original_id": o, "correction_id": c} for o, c in pairs]
        statement = upsert_into(self._conn, t.corrections).on_conflict_do_nothing()
        claimed = set(
            self._conn.execute(statement.returning(t.corrections.c.original_id), rows).scalars()
        )
        wanted = dict(pairs)
        others = [o for o, _ in pairs if o not in claimed]
        c = t.corrections.c
        refused = set()
        for chunk in _chunks(others):
            for original, by in self._conn.execute(
                select(c.original_id, c.correction_id).where(
                    c.vendor == vendor, c.original_id.in_(chunk)
                )
            ):
                if by != wanted[original]:
                    refused.add(original)
        return refused

    def open_quantity(self, vendor: str, license_name: str, unit: str, since: datetime) -> int:
        """The license's on-time usage in `unit` from `since` (the open period) on."""
        h = t.usage_hourly.c
        total = self._conn.execute(
            select(cast(func.sum(h.quantity), BigInteger)).where(
                h.license == license_name,
                h.vendor == vendor,
                h.unit == unit,
                h.late_seal == 0,
                h.hour >= since,
            )
        ).scalar()
        return int(total or 0)

    def fence(self, exclusive: bool = False) -> Fence:
        """The latest seal, read under a lock held until commit: batches share it, a seal
        takes it alone, so a seal waits for the batches in flight and later batches wait
        for the seal. On PostgreSQL an advisory lock (kept in memory: a shared row lock
        would write the row for every batch); SQLite runs one writer at a time anyway."""
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(_FENCE_EXCLUSIVE if exclusive else _FENCE_SHARED)
        row = self._conn.execute(
            select(t.usage_fence.c.seal, t.usage_fence.c.end_time).where(t.usage_fence.c.id == 1)
        ).one()
        return Fence(row.seal, row.end_time)

    def set_fence(self, fence: Fence, now: datetime) -> None:
        self._conn.execute(
            update(t.usage_fence)
            .where(t.usage_fence.c.id == 1)
            .values(seal=fence.seal, end_time=fence.end)
        )
        self._conn.execute(
            insert(t.usage_seals).values(seal=fence.seal, end_time=fence.end, seal_time=now)
        )

    def seal_time(self, seal: int) -> datetime | None:
        return self._conn.execute(
            select(t.usage_seals.c.seal_time).where(t.usage_seals.c.seal == seal)
        ).scalar()

    def billable(
        self,
        start: datetime | None,
        end: datetime,
        late_seal: int,
        vendor: str = "",
    ) -> Iterator[Row[Any]]:
        """Totals to bill, per vendor, publisher, license, work, use and unit: on-time usage
        in [start, end), then (with `late_seal`) usage that came late after that seal, per
        hour so each part can be billed against the period it belongs to."""
        h = t.usage_hourly.c
        dims = (h.vendor, h.publisher, h.license, h.work, h.use, h.unit)
        # Sums cast back to bigint: PostgreSQL sums bigints as numeric.
        on_time = select(
            *dims,
            cast(func.sum(h.quantity), BigInteger).label("quantity"),
            cast(func.sum(h.events), BigInteger).label("events"),
        ).where(h.late_seal == 0, h.hour < end)
        if start is not None:
            on_time = on_time.where(h.hour >= start)
        if vendor:
            on_time = on_time.where(h.vendor == vendor)
        on_time = on_time.group_by(*dims).order_by(*dims)
        yield from self._conn.execution_options(yield_per=5_000).execute(on_time)
        if late_seal:
            late = select(*dims, h.hour, h.quantity, h.events).where(h.late_seal == late_seal)
            if vendor:
                late = late.where(h.vendor == vendor)
            late = late.order_by(*dims, h.hour)
            yield from self._conn.execution_options(yield_per=5_000).execute(late)

    def add_events(
        self, vendor: str, events: Sequence[UsageEvent], now: datetime, fence: Fence
    ) -> None:
        if not events:
            return
        self._conn.execute(
            insert(t.usage_events),
            [
                {
                    "vendor": vendor,
                    "event_id": e.id,
                    "license": e.license,
                    "publisher": e.publisher,
                    "work": e.work,
                    "use": e.use,
                    "unit": e.unit.value if e.unit else "",
                    "quantity": e.counted_quantity,
                    "occur_time": e.occur_time,
                    "source": e.source,
                    "attributes": dict(e.attributes),
                    "record_time": now,
                    "late_seal": fence.late_seal(e.occur_time),  # type: ignore[arg-type]
                    "correction": e.correction.value if e.correction else "",
                    "corrects": e.corrects,
                    "stated_quantity": stated_quantity(e),
                }
                for e in events
            ],
        )

    def add_to_rollups(self, totals: dict[RollupKey, Totals]) -> None:
        rows = [
            {"vendor": k.vendor, "publisher": k.publisher, "license": k.license, "work": k.work,
             "use": k.use, "unit": k.unit, "hour": k.hour, "late_seal": k.late_seal,
             "quantity": totals[k].quantity, "events": totals[k].events}
            for k in sorted_keys(totals)
        ]  # fmt: skip
        if rows:
            self._conn.execute(self._add_to_rollups, rows)

    def hourly(self, start: datetime, end: datetime, **equal: str) -> Iterator[Row[Any]]:
        """Rollup rows in [start, end), filtered on the given columns."""
        query = select(t.usage_hourly).where(
            t.usage_hourly.c.hour >= start, t.usage_hourly.c.hour < end
        )
        for column, value in equal.items():
            if value:
                query = query.where(t.usage_hourly.c[column] == value)
        yield from self._conn.execute(query)

    def events_of_license(
        self,
        license_name: str,
        start: datetime,
        end: datetime,
        after_seq: int,
        limit: int,
        party: str | None = None,
    ) -> list[Row[Any]]:
        """A page of the license's events; with `party`, only those of that vendor or
        publisher."""
        e = t.usage_events.c
        query = select(t.usage_events).where(
            e.license == license_name, e.occur_time >= start, e.occur_time < end, e.seq > after_seq
        )
        if party is not None:
            query = query.where(or_(e.vendor == party, e.publisher == party))
        return list(self._conn.execute(query.order_by(e.seq).limit(limit)))


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
