"""Money: one rounding rule, splits that add up, rating by each price model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.settlement.domain.money import (
    allocate,
    apportion,
    micros_to_minor,
    minor_digits,
    round_half_even,
)
from services.settlement.domain.postings import Holder, InvoiceLine, commission_of, split_license
from services.settlement.domain.rating import Charge, LineKey, adjustments, rate_vendor
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


@settings(max_examples=400, deadline=None)
@given(
    exact=st.lists(
        st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**7),
        min_size=1,
        max_size=40,
    ),
    nudge=st.sampled_from([-1, 0, 1]),
)
def test_apportioned_parts_sum_to_the_total_and_stay_within_one_unit(
    exact: list[Fraction], nudge: int
) -> None:
    total = round_half_even(sum(exact, Fraction(0))) + nudge
    keys = [f"line-{i:03d}" for i in range(len(exact))]
    parts = apportion(total, exact, keys)
    assert sum(parts) == total
    if abs(total - sum(exact)) <= 1:
        assert all(abs(p - x) < 1 + Fraction(1, 10**9) for p, x in zip(parts, exact, strict=True))


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(
        st.fractions(min_value=0, max_value=50, max_denominator=1000), min_size=1, max_size=30
    ),
    rate=st.integers(0, 10_000),
    shares=st.lists(st.integers(1, 10_000), min_size=1, max_size=4),
)
def test_commission_and_shares_are_rounded_once_per_license(
    amounts: list[Fraction], rate: int, shares: list[int]
) -> None:
    """A license's lines: the holders' gross and commission are each within one minor
    unit of their exact share of the license, and nothing is left over."""
    exact_total = sum(amounts, Fraction(0))
    billed = round_half_even(exact_total)
    keys = [f"k{i:03d}" for i in range(len(amounts))]
    rounded = apportion(billed, amounts, keys)
    charges = [
        InvoiceLine(Charge(LineKey("licenses/l", f"w{i}"), 1, a, "USD", x), 1, False)
        for i, (a, x) in enumerate(zip(rounded, amounts, strict=True))
    ]
    holders = [Holder(f"people/p{i}", bps) for i, bps in enumerate(shares)]
    parts = [p for line in split_license(charges, rate, [holders] * len(charges)) for p in line]
    commission = commission_of(billed, rate)
    assert abs(commission - billed * Fraction(rate, 10_000)) <= Fraction(1, 2)
    assert sum(p.gross for p in parts) == billed
    assert sum(p.commission for p in parts) == commission
    assert all(p.gross == p.net + p.commission for p in parts)
    whole = sum(shares)
    for holder in holders:
        mine = sum(p.gross for p in parts if p.party == holder.party)
        assert abs(mine - exact_total * holder.share_bps / whole) < 1 + Fraction(1, 2)


def test_many_sub_cent_lines_are_split_fairly_between_holders() -> None:
    """10,000 works at 0.4 cents each, owned half by the first party and half by the
    second: each holder is owed $20.00, not $40.00 and $0.00."""
    lines = [
        InvoiceLine(
            Charge(
                LineKey("licenses/l", f"w{i:05d}"), 1, 1 if i % 5 < 2 else 0, "USD", Fraction(2, 5)
            ),
            1,
            False,
        )
        for i in range(10_000)
    ]
    owners = [[Holder("people/a" if i < 5_000 else "people/b", 10_000)] for i in range(10_000)]
    parts = [p for line in split_license(lines, 1_500, owners) for p in line]
    gross = {
        party: sum(p.gross for p in parts if p.party == party) for party in ("people/a", "people/b")
    }
    assert gross == {"people/a": 2_000, "people/b": 2_000}
    assert sum(p.commission for p in parts) == 600


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
        # 3 uses at $0.002 = $0.006 -> 1 cent (half to even of 0.6), once per license.
        (lic(Model.PER_USE, amount_micros=2_000), usage(w1_uses=3), {"w1": 1}),
        # $0.005 per use, 4 uses: $0.02, spread 0.5 : 1.5 -> 1 and 1 (equal remainders
        # go to the first line).
        (lic(Model.PER_USE, amount_micros=5_000), usage(w1_uses=1, w2_uses=3), {"w1": 1, "w2": 1}),
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
        # A minimum of $5.00 a fixed 30 days (the period) tops $0.30 up by one line.
        (
            lic(
                Model.PER_USE,
                amount_micros=10_000,
                minimum_micros=5_000_000,
                interval_seconds=30 * 86_400,
            ),
            usage(w1_uses=30),
            {"w1": 30, "minimum": 470},
        ),
        # A subscription of $300 a month: the period is 30 of October's 31 days.
        (lic(Model.SUBSCRIPTION, amount_micros=300_000_000), {}, {"subscription": 29_032}),
        # $300 a year: 30 of 2026's 365 days.
        (
            lic(Model.SUBSCRIPTION, amount_micros=300_000_000, interval_months=12),
            {},
            {"subscription": 2_466},
        ),
        (lic(Model.FREE), usage(w1_uses=1_000), {}),
    ],
)
def test_rating_by_model(terms: LicenseTerms, used: dict, expected: dict[str, int]) -> None:
    charges = rate_vendor(PERIOD, [terms], used, {})
    assert {k: v for k, v in amounts(charges).items() if v} == expected


def test_subscription_and_minimum_are_prorated_for_part_of_the_period() -> None:
    starts_late = LicenseTerms(
        "licenses/l1", "vendors/v", "publishers/p", 1_500,
        Price(Model.SUBSCRIPTION, "USD", amount_micros=300_000_000, interval_seconds=30 * 86_400),
        start=T0 + timedelta(days=20), end=T0 + timedelta(days=26),
    )  # fmt: skip
    assert amounts(rate_vendor(PERIOD, [starts_late], {}, {})) == {"subscription": 6_000}


@pytest.mark.parametrize(
    ("start", "hours", "expected_cents"),
    [
        # $250 a month: a day of November (30 days) is $8.33, an hour $0.35.
        (datetime(2026, 11, 3, tzinfo=UTC), 24, 833),
        (datetime(2026, 11, 3, tzinfo=UTC), 1, 35),
        # A day of February 2027 (28 days).
        (datetime(2027, 2, 10, tzinfo=UTC), 24, 893),
        # Two days across October (31) and November (30): 250/31 + 250/30 = $16.40.
        (datetime(2026, 10, 31, tzinfo=UTC), 48, 1640),
        # The whole of November: the whole price.
        (datetime(2026, 11, 1, tzinfo=UTC), 30 * 24, 25_000),
    ],
)
def test_a_subscription_bills_its_share_of_the_month_whatever_the_period(
    start: datetime, hours: int, expected_cents: int
) -> None:
    terms = LicenseTerms(
        "licenses/l1", "vendors/v", "publishers/p", 1_500,
        Price(Model.SUBSCRIPTION, "USD", amount_micros=250_000_000), start=T0,
    )  # fmt: skip
    period = Period(1, start, start + timedelta(hours=hours))
    assert amounts(rate_vendor(period, [terms], {}, {})) == {"subscription": expected_cents}


def test_sub_cent_prices_bill_the_exact_total_rounded_once() -> None:
    """10,000 works used once at $0.004 bill $40.00 (per-line rounding billed $0.00);
    used twice, $80.00 (not $100.00)."""
    terms = lic(Model.PER_USE, amount_micros=4_000)
    for times, cents in ((1, 4_000), (2, 8_000)):
        used = {
            ("licenses/l1", f"publishers/p/works/w{i}", "ai-input", "uses"): times
            for i in range(10_000)
        }
        charges = rate_vendor(PERIOD, [terms], used, {})
        assert sum(c.amount for c in charges.values()) == cents
        assert all(abs(c.amount - c.exact_amount) < 1 for c in charges.values())


CURRENCIES = ["USD", "JPY", "KWD"]


@st.composite
def license_and_usage(draw: st.DrawFn) -> tuple[LicenseTerms, dict, dict]:
    model = draw(
        st.sampled_from(
            [
                Model.PER_USE,
                Model.PER_1K_TOKENS,
                Model.PER_CRAWL,
                Model.REVENUE_SHARE,
                Model.SUBSCRIPTION,
            ]
        )
    )
    currency = draw(st.sampled_from(CURRENCIES))
    price: dict[str, object] = {}
    if model is Model.REVENUE_SHARE:
        price["share_bps"] = draw(st.integers(1, 10_000))
    else:
        price["amount_micros"] = draw(st.integers(1, 1_000_000_000))
    if model in (Model.PER_USE, Model.PER_1K_TOKENS, Model.PER_CRAWL) and draw(st.booleans()):
        starts = sorted(draw(st.sets(st.integers(1, 500), min_size=1, max_size=3)))
        price["tiers"] = tuple(Tier(q, draw(st.integers(0, 1_000_000_000))) for q in starts)
    if draw(st.booleans()):
        price["cap_micros"] = draw(st.integers(1, 10**10))
    if draw(st.booleans()):  # never above the cap (licensing refuses that)
        price["minimum_micros"] = draw(st.integers(1, int(price.get("cap_micros", 10**9))))
    terms = lic(model, currency, **price)
    unit = {Model.PER_USE: "uses", Model.PER_1K_TOKENS: "tokens", Model.PER_CRAWL: "crawls"}.get(
        model, "attribution"
    )
    quantities = draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=300))
    used = {
        ("licenses/l1", f"publishers/p/works/w{i:04d}", "ai-input", unit): q
        for i, q in enumerate(quantities)
    }
    pools = {currency: draw(st.integers(0, 10**9))}
    return terms, used, pools


@settings(max_examples=500, deadline=None)
@given(case=license_and_usage())
def test_a_license_is_billed_within_one_minor_unit_of_its_exact_total(case: tuple) -> None:
    terms, used, pools = case
    charges = rate_vendor(PERIOD, [terms], used, pools)
    price = terms.price
    exact = _reference_exact(terms, used, pools)
    scale = 10 ** minor_digits(price.currency)
    lines = [c for c in charges.values() if c.key.kind != "minimum"]
    billed = sum(c.amount for c in lines)
    assert all(abs(c.amount - c.exact_amount) <= 1 for c in charges.values())
    capped = Fraction(price.cap_micros * scale, 1_000_000)
    if price.cap_micros and exact > capped:
        assert billed == price.cap_micros * scale // 1_000_000
        exact = capped
    else:
        assert abs(billed - exact) <= Fraction(1, 2)
    if price.minimum_micros:
        minimum = micros_to_minor(
            price.minimum_micros * PERIOD.interval_share(terms), price.currency
        )
        total = sum(c.amount for c in charges.values())
        assert total == (round_half_even(minimum) if minimum > exact else billed)


def _reference_exact(terms: LicenseTerms, used: dict, pools: dict) -> Fraction:
    """The license's exact total in minor units, unit by unit (slow and plain)."""
    price = terms.price
    if price.model is Model.SUBSCRIPTION:
        return micros_to_minor(price.amount_micros * PERIOD.interval_share(terms), price.currency)
    quantity = sum(used.values())
    if price.model is Model.REVENUE_SHARE:
        return (
            Fraction(pools[price.currency] * price.share_bps, 10_000) if quantity else Fraction(0)
        )
    cost = 0
    rates = [(0, price.amount_micros), *((t.from_quantity, t.amount_micros) for t in price.tiers)]
    for start, rate in reversed(rates):
        if quantity > start:
            cost += (quantity - start) * rate
            quantity = start
    per = 1_000 if price.model is Model.PER_1K_TOKENS else 1
    return micros_to_minor(Fraction(cost, per), price.currency)


def test_a_hundred_thousand_lines_bill_the_exact_total() -> None:
    terms = lic(Model.PER_USE, amount_micros=1)  # a millionth of a dollar per use
    used = {
        ("licenses/l1", f"publishers/p/works/w{i}", "ai-input", "uses"): 1 + i % 7
        for i in range(100_000)
    }
    charges = rate_vendor(PERIOD, [terms], used, {})
    exact = Fraction(sum(used.values()), 10_000)
    assert sum(c.amount for c in charges.values()) == round_half_even(exact)


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
