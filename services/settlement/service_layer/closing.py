"""CloseSettlementPeriod: seal the period's usage, copy the terms it is billed under,
then post the ledger, invoices and statements in one transaction.

Every step can be repeated: running a close again, or resuming one that crashed at any
point, goes on from the last step recorded and writes exactly what an uninterrupted
close would have written (posting times are the time the close was first asked for,
and what the other services said is read from the copies made at the `snapshot` step
or, for usage, from metering, where it no longer changes once sealed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.runtime.errors import FailedPrecondition
from services.runtime.principal import Principal, require
from services.runtime.sqltypes import utc_now
from services.settlement.domain.billing import UsageRow, bill, period_of
from services.settlement.domain.periods import PeriodRecord, check_close_request, next_period
from services.settlement.service_layer.issuing import issue
from services.settlement.service_layer.ports import LicenseSource, RightsSource, UsageSource
from services.settlement.service_layer.unit_of_work import (
    SettlementUnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)


class ClosingService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        usage: UsageSource,
        licenses: LicenseSource,
        rights: RightsSource,
        checkpoint: Callable[[str], None] = lambda step: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._uow = uow
        self._usage = usage
        self._licenses = licenses
        self._rights = rights
        # Called after each step (and before the final commit): tests inject crashes here.
        self._checkpoint = checkpoint
        self._clock = clock

    def close(
        self, p: Principal, start: datetime | None, end: datetime | None, request_id: str = ""
    ) -> PeriodRecord:
        require(p.is_operator, "only the marketplace operator closes settlement periods")
        end = check_close_request(start, end, self._clock())
        period = self._open(start, end, request_id)
        if not period.done("sealed"):
            self._usage.seal(period.number, period.end)
            period = self._step(period, "sealed")
        rows: list[UsageRow] | None = None
        if not period.done("snapshot"):
            rows = self._rows(period)
            period = self._snapshot(period, rows)
        if not period.done("posted"):
            period = self._post(period, self._rows(period) if rows is None else rows)
        return period

    def _open(self, start: datetime | None, end: datetime, request_id: str) -> PeriodRecord:
        for attempt in range(3):
            try:
                return self._open_once(start, end, request_id)
            except IntegrityError:  # another replica opened it a moment ago: read it
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _open_once(self, start: datetime | None, end: datetime, request_id: str) -> PeriodRecord:
        with self._uow() as uow:
            last = uow.records.last_period(lock=True)
            new = next_period(last, start, end, self._clock())
            if new is None:
                assert last is not None
                return last
            uow.records.add_period(new, request_id)
            uow.commit()
        log.info("closing period %d: %s to %s", new.number, new.start, new.end)
        self._checkpoint("opened")
        return new

    def _step(
        self,
        period: PeriodRecord,
        step: str,
        write: Callable[[SettlementUnitOfWork], None] = lambda uow: None,
    ) -> PeriodRecord:
        """Record a step (and what it wrote) unless another replica closing the same
        period got there first: steps only move forward, and the first writer's copy
        stands."""
        with self._uow() as uow:
            current = uow.records.period(period.number, lock=True)
            assert current is not None
            if current.done(step):
                return current
            write(uow)
            uow.records.set_step(period.number, step)
            uow.commit()
        self._checkpoint(step)
        return replace(current, step=step)

    def _rows(self, period: PeriodRecord) -> list[UsageRow]:
        """The period's own usage (the first period's includes everything before it) and
        the usage that came late after the previous close."""
        start = period.start if period.number > 1 else None
        return list(self._usage.billable(start, period.end, period.number - 1))

    def _snapshot(self, period: PeriodRecord, rows: list[UsageRow]) -> PeriodRecord:
        licenses = {lic.name: lic for lic in self._licenses.licenses()}
        unknown = sorted({r.license for r in rows} - set(licenses))
        if unknown:
            raise FailedPrecondition(
                "UNKNOWN_LICENSE", f"usage names licenses licensing does not know: {unknown[:5]}"
            )
        vendors = {r.vendor for r in rows} | {
            lic.vendor for lic in licenses.values() if period.period.active_share(lic)
        }
        kept = [lic for lic in licenses.values() if lic.vendor in vendors]
        holders = self._rights.holders(sorted({r.work for r in rows if r.work}))
        return self._step(
            period,
            "snapshot",
            lambda uow: uow.records.save_snapshot(period.number, kept, holders),
        )

    def _post(self, period: PeriodRecord, rows: list[UsageRow]) -> PeriodRecord:
        with self._uow() as uow:
            # Another replica closing the same period at once waits here, then finds it
            # posted and issues nothing twice.
            current = uow.records.period(period.number, lock=True)
            if current is not None and current.done("posted"):
                return current
            closed = [p.period for p in uow.records.periods() if p.number < period.number]
            licenses = uow.records.licenses(period.number)
            touched = sorted(
                {(period_of(r.hour, closed) if r.hour else period.number, r.vendor) for r in rows}
            )
            numbers = sorted({n for n, _ in touched} | {period.number})
            billing = bill(
                period.period,
                closed,
                rows,
                licenses,
                uow.records.billed(touched),
                uow.records.pools(numbers),
            )
            issue(uow, period, billing, licenses, uow.records.holders(period.number))
            uow.records.save_billed(billing.states)
            uow.records.set_step(period.number, "posted", closed_time=period.close_time)
            self._checkpoint("before-commit")
            uow.commit()
        log.info("period %d closed", period.number)
        return replace(period, step="posted", state="CLOSED", closed_time=period.close_time)
