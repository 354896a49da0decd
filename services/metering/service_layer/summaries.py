"""Usage summaries from the hourly rollups, and raw event export for audits.

Who sees what: a vendor its own usage, a publisher the usage of its works (by vendor),
the operator and other services everything. Filters a caller may not widen are forced.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import resource_names
from services.runtime.errors import Violations
from services.runtime.principal import Principal, Role, require

DIMENSIONS = ("vendor", "publisher", "license", "work", "use")
GRANULARITIES = ("", "hour", "day", "month")
MAX_RANGE = timedelta(days=400)
EXPORT_PAGE = 1_000


@dataclass(frozen=True)
class SummaryQuery:
    start: datetime | None
    end: datetime | None
    group_by: tuple[str, ...] = ()
    granularity: str = ""
    vendor: str = ""
    publisher: str = ""
    license: str = ""
    work: str = ""
    use: str = ""


@dataclass(frozen=True)
class SummaryRow:
    vendor: str
    publisher: str
    license: str
    work: str
    use: str
    unit: str
    bucket_start: datetime | None
    quantity: int
    events: int


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    vendor: str
    event_id: str
    license: str
    publisher: str
    work: str
    use: str
    unit: str
    quantity: int
    occur_time: datetime
    source: str
    attributes: dict[str, str]
    record_time: datetime
    late_seal: int
    correction: str
    corrects: str
    stated_quantity: int


class SummaryService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def summary(self, p: Principal, query: SummaryQuery) -> list[SummaryRow]:
        """Totals from the hourly rollups: exact for whole hours, so the bounds must be
        whole hours (a bound inside an hour would count all or none of it)."""
        start, end = _range(query.start, query.end, whole_hours=True)
        query = _scoped(p, query)
        totals: dict[tuple[object, ...], list[int]] = {}
        with self._uow(write=False) as uow:
            rows = uow.usage.hourly(
                start,
                end,
                vendor=query.vendor,
                publisher=query.publisher,
                license=query.license,
                work=query.work,
                use=query.use,
            )
            for row in rows:
                key = (
                    *(getattr(row, d) if d in query.group_by else "" for d in DIMENSIONS),
                    row.unit,
                    _bucket(row.hour, query.granularity),
                )
                entry = totals.setdefault(key, [0, 0])
                entry[0] += row.quantity
                entry[1] += row.events
        return [
            SummaryRow(*key, quantity=q, events=n)  # type: ignore[arg-type, misc]
            for key, (q, n) in sorted(totals.items(), key=lambda kv: _sort_key(kv[0]))
        ]

    def export(
        self, p: Principal, license_name: str, start: datetime | None, end: datetime | None
    ) -> Iterator[list[StoredEvent]]:
        """Pages of the license's events in [start, end), in the order they were recorded."""
        begin, finish = _range(start, end)
        if not resource_names.matches(license_name, ("licenses",)):
            v = Violations()
            v.add("license", "must be licenses/{license}")
            v.raise_if_any()
        party = None if p.is_trusted else p.account  # a vendor's or a publisher's own events
        after = 0
        while True:
            with self._uow(write=False) as uow:
                rows = uow.usage.events_of_license(
                    license_name, begin, finish, after, EXPORT_PAGE, party
                )
            page = [StoredEvent(**row._mapping) for row in rows]
            if page:
                yield page
            if len(rows) < EXPORT_PAGE:
                return
            after = rows[-1].seq


def _range(
    start: datetime | None, end: datetime | None, whole_hours: bool = False
) -> tuple[datetime, datetime]:
    v = Violations()
    if start is None:
        v.add("start_time", "required")
    if end is None:
        v.add("end_time", "required")
    for name, bound in (("start_time", start), ("end_time", end)):
        if (
            whole_hours
            and bound is not None
            and (bound.minute, bound.second, bound.microsecond) != (0, 0, 0)
        ):
            v.add(name, "must be a whole hour (usage is summed per hour), e.g. 17:00:00Z")
    if start and end and not timedelta(0) < end - start <= MAX_RANGE:
        v.add("end_time", f"after start_time, at most {MAX_RANGE.days} days")
    v.raise_if_any()
    assert start is not None and end is not None
    return start, end


def _scoped(p: Principal, query: SummaryQuery) -> SummaryQuery:
    if p.is_trusted:
        return query
    if p.role is Role.VENDOR:
        require(query.vendor in ("", p.account), "vendors see only their own usage")
        return replace(query, vendor=p.account)
    require(p.role is Role.PUBLISHER, "only vendors, publishers and the operator read usage")
    require(query.publisher in ("", p.account), "publishers see only the usage of their works")
    return replace(query, publisher=p.account)


def _bucket(hour: datetime, granularity: str) -> datetime | None:
    if granularity == "hour":
        return hour
    if granularity == "day":
        return hour.replace(hour=0)
    if granularity == "month":
        return hour.replace(day=1, hour=0)
    return None


def _sort_key(key: Sequence[object]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)
