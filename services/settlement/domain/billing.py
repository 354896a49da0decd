"""What closing a period bills: the period's own charges, and adjustments of earlier
periods for usage that arrived after they closed.

Late usage is billed by re-rating: it is added to the usage of the period it belongs
to, that vendor's period is rated again with that period's terms (tiers, caps, minimums
and pools as they were), and the difference from what was billed becomes adjustment
lines now. So a period's bills always add up to the rating of its final usage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.settlement.domain.postings import InvoiceLine
from services.settlement.domain.rating import Charge, LineKey, adjustments, rate_vendor
from services.settlement.domain.terms import LicenseTerms, Period

UsageKey = tuple[str, str, str, str]  # license, work, use, unit


@dataclass(frozen=True)
class UsageRow:
    vendor: str
    license: str
    work: str
    use: str
    unit: str
    quantity: int
    # Late usage: the hour it happened in; None for the period's own usage.
    hour: datetime | None = None

    @property
    def key(self) -> UsageKey:
        return (self.license, self.work, self.use, self.unit)


@dataclass
class VendorPeriod:
    """One vendor's usage and charges in one period, as billed so far."""

    usage: dict[UsageKey, int] = field(default_factory=dict)
    charges: dict[LineKey, Charge] = field(default_factory=dict)


@dataclass(frozen=True)
class Billing:
    # vendor -> its invoice lines, in order.
    lines: dict[str, list[InvoiceLine]]
    # (period, vendor) -> the state to store for it.
    states: dict[tuple[int, str], VendorPeriod]


def bill(
    period: Period,
    earlier: list[Period],
    rows: Iterable[UsageRow],
    licenses: Mapping[str, LicenseTerms],
    stored: Mapping[tuple[int, str], VendorPeriod],
    pools: Mapping[tuple[int, str], Mapping[str, int]],
) -> Billing:
    """Bill `period`: `rows` are its own usage and the late usage since the last close;
    `earlier` the closed periods (ascending); `stored` what they billed, per vendor;
    `pools` the attribution pools per (period, vendor) and currency."""
    states: dict[tuple[int, str], VendorPeriod] = {}
    touched: set[tuple[int, str]] = set()
    for row in rows:
        number = period.number if row.hour is None else period_of(row.hour, earlier)
        state = states.get((number, row.vendor))
        if state is None:
            old = stored.get((number, row.vendor), VendorPeriod())
            state = states[(number, row.vendor)] = VendorPeriod(dict(old.usage), dict(old.charges))
        state.usage[row.key] = state.usage.get(row.key, 0) + row.quantity
        touched.add((number, row.vendor))
    by_number = {p.number: p for p in [*earlier, period]}
    vendors = {lic.vendor for lic in licenses.values()} | {v for _, v in touched}
    lines: dict[str, list[InvoiceLine]] = {}
    for vendor in sorted(vendors):
        # The period's own charges: every vendor with a license in force or usage.
        own = states.setdefault((period.number, vendor), VendorPeriod())
        own.charges = rate_vendor(
            period,
            _of_vendor(licenses, vendor),
            own.usage,
            pools.get((period.number, vendor), {}),
        )
        out = [InvoiceLine(c, period.number, False) for _, c in sorted(own.charges.items())]
        for number in sorted(n for n, v in touched if v == vendor and n != period.number):
            state = states[(number, vendor)]
            rerated = rate_vendor(
                by_number[number],
                _of_vendor(licenses, vendor),
                state.usage,
                pools.get((number, vendor), {}),
            )
            out += [InvoiceLine(c, number, True) for c in adjustments(state.charges, rerated)]
            state.charges = rerated
        if out:
            lines[vendor] = out
    states = {k: s for k, s in states.items() if s.usage or s.charges}
    return Billing(lines, states)


def period_of(hour: datetime, earlier: list[Period]) -> int:
    """The closed period an hour belongs to (the first one also takes what came before)."""
    for p in earlier:
        if hour < p.end:
            return p.number
    raise ValueError(f"late usage at {hour.isoformat()} is after every closed period")


def _of_vendor(licenses: Mapping[str, LicenseTerms], vendor: str) -> list[LicenseTerms]:
    return [lic for lic in licenses.values() if lic.vendor == vendor]
