"""What settlement needs of a license and a period: plain values, copied from licensing
when a period closes (the price terms are frozen in the license, so the copy never goes
stale; the effective end can only move earlier, by a revocation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from fractions import Fraction


class Model(Enum):
    PER_USE = "per-use"
    PER_1K_TOKENS = "per-1k-tokens"
    PER_CRAWL = "per-crawl"
    SUBSCRIPTION = "subscription"
    REVENUE_SHARE = "revenue-share"
    FREE = "free"


# The usage unit each metered model charges for; usage in other units is not charged.
BILLED_UNIT = {
    Model.PER_USE: "uses",
    Model.PER_1K_TOKENS: "tokens",
    Model.PER_CRAWL: "crawls",
    Model.REVENUE_SHARE: "attribution",
}


@dataclass(frozen=True)
class Tier:
    from_quantity: int
    amount_micros: int


@dataclass(frozen=True)
class Price:
    model: Model
    currency: str
    amount_micros: int = 0
    share_bps: int = 0
    tiers: tuple[Tier, ...] = ()
    cap_micros: int = 0
    minimum_micros: int = 0
    # What a subscription's amount and a minimum commitment are for: calendar months
    # (1: a month, 12: a year), or a fixed number of seconds when `interval_seconds` > 0.
    interval_months: int = 1
    interval_seconds: int = 0


@dataclass(frozen=True)
class LicenseTerms:
    name: str
    vendor: str
    publisher: str
    commission_bps: int
    price: Price
    start: datetime
    # When it stops being billable: its end, or when it was revoked; None: open-ended.
    end: datetime | None = None


@dataclass(frozen=True)
class Period:
    number: int
    # The first period has a start for proration, but bills all usage before its end.
    start: datetime
    end: datetime

    def active_share(self, terms: LicenseTerms) -> Fraction:
        """The part of this period the license was in force (0..1)."""
        begin, finish = self._in_force(terms)
        if finish <= begin:
            return Fraction(0)
        return Fraction(_micros(finish - begin), _micros(self.end - self.start))

    def interval_share(self, terms: LicenseTerms) -> Fraction:
        """The part of the license's billing interval this period covers while the
        license was in force: what a subscription's price and a minimum commitment are
        multiplied by. A day of a 30-day month is 1/30 of it, whatever the period's
        length; a period across two months takes its part of each."""
        begin, finish = self._in_force(terms)
        if finish <= begin:
            return Fraction(0)
        price = terms.price
        if price.interval_seconds > 0:
            return Fraction(_micros(finish - begin), price.interval_seconds * 1_000_000)
        share = Fraction(0)
        cursor = begin
        while cursor < finish:
            start = _interval_start(cursor, price.interval_months)
            end = _add_months(start, price.interval_months)
            stop = min(end, finish)
            share += Fraction(_micros(stop - cursor), _micros(end - start))
            cursor = stop
        return share

    def _in_force(self, terms: LicenseTerms) -> tuple[datetime, datetime]:
        begin = max(self.start, terms.start)
        finish = self.end if terms.end is None else min(self.end, terms.end)
        return begin, finish


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def _interval_start(moment: datetime, months: int) -> datetime:
    """The start of the calendar month (or of the year, for 12 months) holding `moment`."""
    month = 1 if months == 12 else moment.month
    return moment.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    return moment.replace(year=moment.year + index // 12, month=index % 12 + 1)
