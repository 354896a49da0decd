"""What settlement needs of a license and a period: plain values, copied from licensing
when a period closes (the price terms are frozen in the license, so the copy never goes
stale; the effective end can only move earlier, by a revocation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
        """The part of this period the license was in force (0..1): what a subscription
        or a minimum commitment is prorated by."""
        begin = max(self.start, terms.start)
        finish = self.end if terms.end is None else min(self.end, terms.end)
        if finish <= begin:
            return Fraction(0)
        return Fraction(int((finish - begin).total_seconds()), int(self._seconds()))

    def _seconds(self) -> float:
        return (self.end - self.start).total_seconds()
