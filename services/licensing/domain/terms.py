"""Terms: what is licensed (scope, uses, users, territories), at what price, for how long.

Offers, proposals and licenses all carry Terms; a license keeps a frozen copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import Enum

from services.licensing.domain import vocabulary as vocab
from services.runtime.errors import Violations

MAX_BPS = 10_000
MAX_LIST = 1_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_WORK_NAME = re.compile(r"^publishers/([a-z][a-z0-9-]{0,62})/works/([a-z][a-z0-9-]{0,62})$")


class PriceModel(Enum):
    PER_USE = "PER_USE"
    PER_1K_TOKENS = "PER_1K_TOKENS"
    PER_CRAWL = "PER_CRAWL"
    SUBSCRIPTION = "SUBSCRIPTION"
    REVENUE_SHARE = "REVENUE_SHARE"
    FREE = "FREE"


@dataclass(frozen=True)
class VolumeTier:
    from_quantity: int
    amount_micros: int


@dataclass(frozen=True)
class Price:
    model: PriceModel | None = None
    currency: str = ""
    amount_micros: int = 0
    share_bps: int = 0
    tiers: tuple[VolumeTier, ...] = ()
    period_cap_micros: int = 0
    minimum_commitment_micros: int = 0
    # What a subscription's amount and a minimum commitment are for: `MONTH` or `YEAR`
    # (calendar), or a fixed number of seconds when `interval_seconds` > 0.
    interval: str = "MONTH"
    interval_seconds: int = 0


INTERVALS = ("MONTH", "YEAR")
MIN_INTERVAL_SECONDS = 3_600
MAX_INTERVAL_SECONDS = 10 * 366 * 86_400


@dataclass(frozen=True)
class Scope:
    sections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    works: tuple[str, ...] = ()
    # URL patterns as RSL's <content url="..."> writes them: `*` matches anything, a
    # trailing `$` ends the URL; otherwise a pattern matches the URLs it begins.
    urls: tuple[str, ...] = ()

    @property
    def is_everything(self) -> bool:
        return not (self.sections or self.tags or self.works or self.urls)


@dataclass(frozen=True)
class Terms:
    scope: Scope = field(default_factory=Scope)
    permitted_uses: tuple[str, ...] = ()
    prohibited_uses: tuple[str, ...] = ()
    permitted_user_types: tuple[str, ...] = ()
    prohibited_user_types: tuple[str, ...] = ()
    permitted_territories: tuple[str, ...] = ()
    prohibited_territories: tuple[str, ...] = ()
    price: Price = field(default_factory=Price)
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: timedelta | None = None
    attribution_required: bool = False
    reporting_required: bool = False

    def period(self, granted_at: datetime) -> tuple[datetime, datetime | None]:
        """When a license on these terms starts and ends if granted at `granted_at`."""
        start = self.start_time or granted_at
        if self.end_time is not None:
            return start, self.end_time
        if self.duration is not None:
            return start, start + self.duration
        return start, None


def check_terms(terms: Terms, v: Violations, prefix: str = "terms", publisher: str = "") -> None:
    """Every rule terms must satisfy, reported all at once."""
    _check_scope(terms.scope, v, f"{prefix}.scope", publisher)
    _check_vocabulary(terms.permitted_uses, vocab.USES, v, f"{prefix}.permitted_uses")
    _check_vocabulary(terms.prohibited_uses, vocab.USES, v, f"{prefix}.prohibited_uses")
    if not terms.permitted_uses:
        v.add(f"{prefix}.permitted_uses", "name at least one use (RSL usage vocabulary)")
    for name in ("permitted_user_types", "prohibited_user_types"):
        _check_vocabulary(getattr(terms, name), vocab.USER_TYPES, v, f"{prefix}.{name}")
    for name in ("permitted_territories", "prohibited_territories"):
        for i, code in enumerate(getattr(terms, name)):
            if not vocab.is_territory(code):
                v.add(f"{prefix}.{name}[{i}]", f"{code!r} is not an ISO 3166-1 alpha-2 code or EU")
    _check_price(terms.price, v, f"{prefix}.price")
    if terms.end_time is not None and terms.duration is not None:
        v.add(f"{prefix}.duration", "set end_time or duration, not both")
    if terms.duration is not None and terms.duration <= timedelta(0):
        v.add(f"{prefix}.duration", "must be positive")
    if terms.start_time and terms.end_time and terms.end_time <= terms.start_time:
        v.add(f"{prefix}.end_time", "must be after start_time")


def _check_scope(scope: Scope, v: Violations, prefix: str, publisher: str) -> None:
    for i, pattern in enumerate(scope.urls):
        if not re.match(r"^https?://[^/*\s]+", pattern) or len(pattern) > 2_048:
            v.add(
                f"{prefix}.urls[{i}]",
                "must be an absolute http(s) URL pattern, e.g. https://news.example/sport/*",
            )
    for name in ("sections", "tags", "works", "urls"):
        values = getattr(scope, name)
        if len(values) > MAX_LIST:
            v.add(f"{prefix}.{name}", f"at most {MAX_LIST} entries")
    for i, work in enumerate(scope.works):
        match = _WORK_NAME.match(work)
        if match is None:
            v.add(f"{prefix}.works[{i}]", "must be publishers/{publisher}/works/{work}")
        elif publisher and f"publishers/{match.group(1)}" != publisher:
            v.add(f"{prefix}.works[{i}]", f"must be a work of {publisher}")


def _check_vocabulary(
    values: tuple[str, ...], allowed: tuple[str, ...], v: Violations, at: str
) -> None:
    for i, value in enumerate(values):
        if value not in allowed:
            v.add(f"{at}[{i}]", f"{value!r} is not one of {', '.join(allowed)}")


def _check_price(price: Price, v: Violations, prefix: str) -> None:
    if price.model is None:
        v.add(f"{prefix}.model", "required")
        return
    if price.model is not PriceModel.FREE and not _CURRENCY.match(price.currency):
        v.add(f"{prefix}.currency", "required: an ISO 4217 code such as USD")
    priced = price.model in (
        PriceModel.PER_USE,
        PriceModel.PER_1K_TOKENS,
        PriceModel.PER_CRAWL,
        PriceModel.SUBSCRIPTION,
    )
    if priced and price.amount_micros <= 0:
        v.add(f"{prefix}.amount_micros", f"must be positive for {price.model.value}")
    if not priced and price.amount_micros != 0:
        v.add(f"{prefix}.amount_micros", f"must be 0 for {price.model.value}")
    if price.model is PriceModel.REVENUE_SHARE:
        if not 0 < price.share_bps <= MAX_BPS:
            v.add(f"{prefix}.share_bps", "must be 1..10000 basis points")
    elif price.share_bps:
        v.add(f"{prefix}.share_bps", "only for REVENUE_SHARE")
    previous = 0
    for i, tier in enumerate(price.tiers):
        if tier.from_quantity <= previous:
            v.add(f"{prefix}.tiers[{i}].from_quantity", "must ascend and start above 0")
        if tier.amount_micros < 0:
            v.add(f"{prefix}.tiers[{i}].amount_micros", "must not be negative")
        previous = max(previous, tier.from_quantity)
    if price.tiers and not priced:
        v.add(f"{prefix}.tiers", f"not for {price.model.value}")
    for name in ("period_cap_micros", "minimum_commitment_micros"):
        if getattr(price, name) < 0:
            v.add(f"{prefix}.{name}", "must not be negative")
    if price.period_cap_micros and price.minimum_commitment_micros > price.period_cap_micros:
        v.add(f"{prefix}.minimum_commitment_micros", "must not exceed period_cap_micros")
    if price.interval not in INTERVALS:
        v.add(f"{prefix}.interval", "must be MONTH or YEAR")
    if price.interval_seconds and not (
        MIN_INTERVAL_SECONDS <= price.interval_seconds <= MAX_INTERVAL_SECONDS
    ):
        v.add(f"{prefix}.interval_duration", "must be whole seconds from 1 hour to 10 years")


def changed_fields(before: Terms, after: Terms) -> list[str]:
    """Dotted paths of what differs, e.g. `price.amount_micros`, for negotiation steps."""
    paths: list[str] = []
    for f in fields(Terms):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old == new:
            continue
        if f.name in ("price", "scope"):
            paths.extend(
                f"{f.name}.{g.name}"
                for g in fields(old)
                if getattr(old, g.name) != getattr(new, g.name)
            )
        else:
            paths.append(f.name)
    return paths


def differs_only_in_price_amount(offer: Terms, proposed: Terms) -> bool:
    """Proposed terms equal to the offer's except a per-unit amount (auto-accept)."""
    same_otherwise = replace(
        proposed, price=replace(proposed.price, amount_micros=offer.price.amount_micros)
    )
    return same_otherwise == offer
