"""A vendor's running charges in the open period, its budgets, and the attribution pool
it reports for revenue-share licenses.

Running charges are rated exactly as the close will rate them (the same code, the same
terms), from the usage metering holds so far; nothing is posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.runtime.errors import Violations
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now
from services.settlement.domain.billing import bill, period_of
from services.settlement.domain.postings import InvoiceLine
from services.settlement.domain.terms import Period
from services.settlement.service_layer import access
from services.settlement.service_layer.ports import LicenseSource, UsageSource
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    total: int
    budget: Any | None  # the budget row, if any
    alert: bool
    over_budget: bool


@dataclass(frozen=True)
class RunningCharges:
    vendor: str
    start: datetime
    as_of: datetime
    lines: list[InvoiceLine]
    totals: list[CurrencyTotal]


class ChargesService:
    def __init__(self, uow: UnitOfWorkFactory, usage: UsageSource, licenses: LicenseSource):
        self._uow = uow
        self._usage = usage
        self._licenses = licenses

    def running(self, p: Principal, vendor: str) -> RunningCharges:
        vendor = access.as_vendor(p, vendor)
        v = Violations()
        _check_vendor(v, vendor)
        v.raise_if_any()
        now = utc_now()
        with self._uow(write=False) as uow:
            closed = [r.period for r in uow.records.periods()]
            number = len(closed) + 1
            start = closed[-1].end if closed else _month_start(now)
            period = Period(number, start, _next_hour(now))
            rows = list(
                self._usage.billable(start if closed else None, period.end, number - 1, vendor)
            )
            licenses = {lic.name: lic for lic in self._licenses.licenses(vendor)}
            touched = sorted(
                {(period_of(r.hour, closed) if r.hour else number, vendor) for r in rows}
            )
            billing = bill(
                period,
                closed,
                rows,
                licenses,
                uow.records.billed(touched),
                uow.records.pools(sorted({n for n, _ in touched} | {number})),
            )
            budgets = {b.currency: b for b in uow.records.budgets(vendor)}
        lines = billing.lines.get(vendor, [])
        totals: dict[str, int] = {}
        for line in lines:
            totals[line.charge.currency] = totals.get(line.charge.currency, 0) + line.charge.amount
        return RunningCharges(
            vendor,
            start,
            now,
            lines,
            [
                _against_budget(c, totals.get(c, 0), budgets.get(c))
                for c in sorted(set(totals) | set(budgets))
            ],
        )

    def set_budget(
        self, p: Principal, vendor: str, currency: str, amount: int, alert_bps: int
    ) -> Any:
        vendor = access.as_vendor(p, vendor)
        v = Violations()
        _check_money(v, vendor, currency, amount)
        if not 1 <= alert_bps <= 10_000:
            v.add("alert_threshold_bps", "1..10000")
        v.raise_if_any()
        with self._uow() as uow:
            uow.records.set_budget(vendor, currency, amount, alert_bps, utc_now())
            uow.commit()
            return next(b for b in uow.records.budgets(vendor) if b.currency == currency)

    def set_pool(self, p: Principal, vendor: str, currency: str, amount: int) -> int:
        """The vendor's revenue to share for the open period; returns its number."""
        vendor = access.as_vendor(p, vendor)
        v = Violations()
        _check_money(v, vendor, currency, amount)
        v.raise_if_any()
        with self._uow() as uow:
            last = uow.records.last_period(lock=True)  # not while a close reads pools
            number = last.number + 1 if last else 1
            uow.records.set_pool(number, vendor, currency, amount)
            uow.commit()
        return number


def _against_budget(currency: str, total: int, budget: Any | None) -> CurrencyTotal:
    if budget is None:
        return CurrencyTotal(currency, total, None, False, False)
    alert = total * 10_000 >= budget.amount * budget.alert_bps
    return CurrencyTotal(currency, total, budget, alert, total > budget.amount)


def _check_money(v: Violations, vendor: str, currency: str, amount: int) -> None:
    _check_vendor(v, vendor)
    if len(currency) != 3 or not currency.isupper():
        v.add("currency", "an ISO 4217 code such as USD")
    if amount < 0:
        v.add("amount", "must not be negative")


def _check_vendor(v: Violations, vendor: str) -> None:
    if not vendor.startswith("vendors/"):
        v.add("vendor", "must be vendors/{vendor}")


def _next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
