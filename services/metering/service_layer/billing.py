"""What settlement asks of metering: seal usage up to a period's end, then read the
totals to bill (on-time usage of the period, and usage that came late after the
previous seal)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from services.metering.domain.seals import next_fence
from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.errors import Violations
from services.runtime.principal import Principal, require
from services.runtime.sqltypes import utc_now


@dataclass(frozen=True)
class Seal:
    seal: int
    end: datetime
    seal_time: datetime


@dataclass(frozen=True)
class BillableRow:
    vendor: str
    publisher: str
    license: str
    work: str
    use: str
    unit: str
    quantity: int
    events: int
    # Set for late usage: the hour it happened in (the period it belongs to).
    hour: datetime | None = None


class BillingService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def seal(self, p: Principal, seal: int, end: datetime | None) -> Seal:
        require(p.is_trusted, "only settlement and the operator seal usage")
        _check(seal_number=seal, end=end, end_required=True)
        assert end is not None
        with self._uow() as uow:
            current = uow.usage.fence(exclusive=True)
            fence = next_fence(current, seal, end)
            now = utc_now()
            if fence is not None:
                uow.usage.set_fence(fence, now)
                uow.commit()
                return Seal(seal, end, now)
            sealed_at = uow.usage.seal_time(seal)
        return Seal(seal, end, sealed_at or now)

    def billable(
        self,
        p: Principal,
        start: datetime | None,
        end: datetime | None,
        late_seal: int,
        vendor: str = "",
    ) -> Iterator[list[BillableRow]]:
        """Pages of rows to bill: on-time usage in [start, end) (no start: from the
        beginning), then usage recorded late after seal `late_seal` (0: none)."""
        require(p.is_trusted, "only settlement and the operator read billable usage")
        _check(late_seal=late_seal, end=end, end_required=True, start=start)
        assert end is not None
        page: list[BillableRow] = []
        with self._uow(write=False) as uow:
            for row in uow.usage.billable(start, end, late_seal, vendor):
                page.append(BillableRow(**row._mapping))
                if len(page) == 5_000:
                    yield page
                    page = []
        if page:
            yield page


def _check(
    end: datetime | None,
    end_required: bool,
    seal_number: int | None = None,
    late_seal: int | None = None,
    start: datetime | None = None,
) -> None:
    v = Violations()
    if seal_number is not None and seal_number < 1:
        v.add("seal", "must be 1 or more")
    if late_seal is not None and late_seal < 0:
        v.add("late_seal", "must not be negative")
    for name, moment in (("start_time", start), ("end_time", end)):
        if moment is not None and (moment.minute or moment.second or moment.microsecond):
            v.add(name, "must be on the hour (usage is totalled per hour)")
    if end is None and end_required:
        v.add("end_time", "required")
    if start is not None and end is not None and start >= end:
        v.add("end_time", "must be after start_time")
    v.raise_if_any()
