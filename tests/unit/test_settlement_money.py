"""Money: one rounding rule, splits that add up, rating by each price model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.domain.money import allocate, micros_to_minor, round_half_even
from services.settlement.domain.postings import Holder, commission_of, split
from services.settlement.domain.rating import LineKey, adjustments, rate_vendor
from services.settlement.domain.terms import LicenseTerms, Model, Period, Price, Tier

T0 = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = Period(1, T0, T0 + timedelta(days=30))


@settings(max_examples=10_000, deadline=None)
@given(
    total=st.integers(-(10**12), 10**12),
    weights=st.lists(st.integers(0, 10_000), min_size=1, max_size=12).filter(any),
)
def test_parts_sum_to_the_whole_and_stay_within_one_unit_of_their_quota(
    total: int, weights: list[int]
) -> None:
    keys = [f"party-{i:02d}" for i in range(len(weights))]
    parts = allocate(total, weights, keys)
    assert sum(parts) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total * weight, whole)) < 1


def test_equal_remainders_go_to_the_first_keys() -> None:
    assert allocate(2, [1, 1, 1], ["c", "a", "b"]) == [0, 1, 1]
    assert allocate(-2, [1, 1, 1], ["c", "a", "b"]) == [0, -1, -1]


def test_rounding_is_half_to_even() -> None:
    assert [round_half_even(Fraction(n, 2)) for n in (1, 3, 5, -1, -3)] == [0, 2, 2, 0, -2]
    assert micros_to_minor(12_345, "USD") == Fraction(12_345, 10_000)
    assert micros_to_minor(1_000_000, "JPY") == 1
    assert micros_to_minor(1_000_000, "KWD") == 1_000


@settings(max_examples=2_000, deadline=None)
@given(
    amount=st.integers(-(10**9), 10**9),
    rate=st.integers(0, 10_000),
    shares=st.lists(st.integers(1, 10_000), min_size=1, max_size=5),
)
def test_commission_and_shares_leave_no_residual(amount: int, rate: int, shares: list[int]) -> None:
    holders = [Holder(f"people/p{i}", bps) for i, bps in enumerate(shares)]
    parts = split(amount, rate, holders)
    commission = commission_of(amount, rate)
    assert sum(p.net for p in parts) == amount - commission
    assert sum(p.commission for p in parts) == commission
    assert sum(p.gross for p in parts) == amount
    assert all(p.gross == p.net + p.commission for p in parts)


def lic(model: Model, currency: str = "USD", **price: object) -> LicenseTerms:
    return LicenseTerms(
        "licenses/l1",
        "vendors/v",
        "publishers/p",
        1_500,
        Price(model, currency, **price),  # type: ignore[arg-type]
        start=T0,
    )


def usage(**lines: int) -> dict[tuple[str, str, str, str], int]:
    """`w1_tokens=5` -> licenses/l1, publishers/p/works/w1, ai-input, tokens: 5."""
    out = {}
    for name, quantity in lines.items():
        work, unit = name.split("_")
        out[("licenses/l1", f"publishers/p/works/{work}", "ai-input", unit)] = quantity
    return out


def amounts(charges: dict[LineKey, object]) -> dict[str, int]:
    return {f"{k.work.rsplit('/', 1)[-1] or k.kind}": c.amount for k, c in charges.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("terms", "used", "expected"),
    [
        # 3 uses at $0.002 = $0.006 -> 1 cent (half to even of 0.6), per line once.
        (lic(Model.PER_USE, amount_micros=2_000), usage(w1_uses=3), {"w1": 1}),
        # $0.005 per use: 0.5 cent -> 0 (even), 1.5 -> 2.
        (lic(Model.PER_USE, amount_micros=5_000), usage(w1_uses=1, w2_uses=3), {"w2": 2}),
        # $1.50 per 1,000 tokens, 12,345 tokens: $18.5175 -> 1852 cents.
        (lic(Model.PER_1K_TOKENS, amount_micros=1_500_000), usage(w1_tokens=12_345), {"w1": 1852}),
        # Units the model does not price are not charged.
        (lic(Model.PER_CRAWL, amount_micros=10_000), usage(w1_crawls=2, w1_uses=9), {"w1": 2}),
        # JPY has no minor unit: 3 uses at 0.4 yen = 1.2 -> 1.
        (lic(Model.PER_USE, "JPY", amount_micros=400_000), usage(w1_uses=3), {"w1": 1}),
        # Graduated tiers: 100 at $0.01, then $0.005 from 100, $0.001 from 200; 250 uses:
        # 100 + 50 + 5 = 155 cents, spread 150:100 -> 93 and 62.
        (
            lic(
                Model.PER_USE,
                amount_micros=10_000,
                tiers=(Tier(100, 5_000), Tier(200, 1_000)),
            ),
            usage(w1_uses=150, w2_uses=100),
            {"w1": 93, "w2": 62},
        ),
        # A cap of $1.00 binds on $3.00 of usage: split 2:1 by exact amounts.
        (
            lic(Model.PER_USE, amount_micros=10_000, cap_micros=1_000_000),
            usage(w1_uses=200, w2_uses=100),
            {"w1": 67, "w2": 33},
        ),
        # A minimum of $5.00 for the period tops $0.30 up by one line.
        (
            lic(Model.PER_USE, amount_micros=10_000, minimum_micros=5_000_000),
            usage(w1_uses=30),
            {"w1": 30, "minimum": 470},
        ),
        # A subscription of $300 for the whole period.
        (lic(Model.SUBSCRIPTION, amount_micros=300_000_000), {}, {"subscription": 30_000}),
        (lic(Model.FREE), usage(w1_uses=1_000), {}),
    ],
)
def test_rating_by_model(terms: LicenseTerms, used: dict, expected: dict[str, int]) -> None:
    charges = rate_vendor(PERIOD, [terms], used, {})
    assert {k: v for k, v in amounts(charges).items() if v} == expected


def test_subscription_and_minimum_are_prorated_for_part_of_the_period() -> None:
    starts_late = LicenseTerms(
        "licenses/l1", "vendors/v", "publishers/p", 1_500,
        Price(Model.SUBSCRIPTION, "USD", amount_micros=300_000_000),
        start=T0 + timedelta(days=20), end=T0 + timedelta(days=26),
    )  # fmt: skip
    assert amounts(rate_vendor(PERIOD, [starts_late], {}, {})) == {"subscription": 6_000}


def test_revenue_share_splits_the_pool_by_attribution() -> None:
    a = lic(Model.REVENUE_SHARE, share_bps=5_000)
    b = LicenseTerms(
        "licenses/l2", "vendors/v", "publishers/q", 1_500,
        Price(Model.REVENUE_SHARE, "USD", share_bps=5_000), start=T0,
    )  # fmt: skip
    used = {
        ("licenses/l1", "publishers/p/works/w1", "ai-input", "attribution"): 3,
        ("licenses/l2", "publishers/q/works/w9", "ai-input", "attribution"): 1,
    }
    charges = rate_vendor(PERIOD, [a, b], used, {"USD": 100_000})  # a $1,000 pool
    assert sorted(c.amount for c in charges.values()) == [12_500, 37_500]


def test_adjustments_are_the_difference_per_line() -> None:
    terms = lic(Model.PER_USE, amount_micros=10_000)
    before = rate_vendor(PERIOD, [terms], usage(w1_uses=10, w2_uses=5), {})
    after = rate_vendor(PERIOD, [terms], usage(w1_uses=12, w2_uses=0), {})
    delta = {
        k.work[-2:]: (c.quantity, c.amount)
        for k, c in [(d.key, d) for d in adjustments(before, after)]
    }
    assert delta == {"w1": (2, 2), "w2": (-5, -5)}
