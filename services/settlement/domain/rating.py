"""Rating: one vendor's usage in one period, priced with each license's frozen terms.

Per license, in order:
1. Metered models price the usage in their unit: per use, per crawl, per 1,000 tokens;
   volume tiers are graduated (from a tier's `from_quantity` on, units cost the tier's
   price) over the license's whole usage in the period, and the total is spread over the
   license's lines in proportion to their quantities. Revenue share gives each line
   `share_bps` of the vendor's pool for the period times the line's share of all the
   vendor's attribution usage in that currency. A subscription is one line: its price
   times the part of its billing interval (a calendar month, a year, or a fixed span)
   that the period covers while the license was in force.
2. The license's exact total is rounded once, half to even, to minor units, and spread
   over its lines by the largest remainder against their exact amounts (money.py).
3. A cap binds when the exact total exceeds it: the cap (rounded down to minor units) is
   then spread over the lines in proportion to their exact amounts.
4. A minimum commitment (for the same interval as a subscription) adds one line for the
   shortfall.
Each charge keeps its exact amount beside the rounded one, so that later splits
(commission, rights holders) and re-ratings work from exact values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from services.runtime.pricing import graduated
from services.settlement.domain.money import (
    MICROS,
    apportion_scaled,
    divide_half_even,
    floor_to_minor,
    micros_to_minor,
    minor_digits,
    round_half_even,
)
from services.settlement.domain.terms import BILLED_UNIT, LicenseTerms, Model, Period


@dataclass(frozen=True, order=True)
class LineKey:
    license: str
    work: str = ""
    use: str = ""
    unit: str = ""
    # `usage`, `subscription` or `minimum`.
    kind: str = "usage"

    def as_text(self) -> str:
        return "|".join((self.license, self.work, self.use, self.unit, self.kind))


@dataclass(frozen=True)
class Charge:
    key: LineKey
    quantity: int
    amount: int  # minor units
    currency: str
    # The exact amount in minor units that `amount` was apportioned from (None: as
    # `amount`, for charges billed before exact amounts were kept).
    exact: Fraction | None = None

    @property
    def exact_amount(self) -> Fraction:
        return Fraction(self.amount) if self.exact is None else self.exact


# (license, work, use, unit) -> quantity in the period
Usage = Mapping[tuple[str, str, str, str], int]


def rate_vendor(
    period: Period,
    licenses: Iterable[LicenseTerms],
    usage: Usage,
    pools: Mapping[str, int],
) -> dict[LineKey, Charge]:
    """Every charge of one vendor for the period. `pools`: the vendor's attribution pool
    per currency, in minor units."""
    by_license: dict[str, list[tuple[LineKey, int]]] = {}
    for (license_name, work, use, unit), quantity in usage.items():
        if quantity:
            key = LineKey(license_name, work, use, unit)
            by_license.setdefault(license_name, []).append((key, quantity))
    licenses = sorted(licenses, key=lambda lic: lic.name)
    attribution = _attribution_totals(licenses, by_license)
    charges: dict[LineKey, Charge] = {}
    for lic in licenses:
        lines = sorted(by_license.get(lic.name, ()))
        if not lines and not period.active_share(lic):
            continue
        share = period.interval_share(lic)
        for charge in _finish(lic, share, _exact_lines(lic, share, lines, pools, attribution)):
            charges[charge.key] = charge
    return charges


def _attribution_totals(
    licenses: list[LicenseTerms], by_license: dict[str, list[tuple[LineKey, int]]]
) -> dict[str, int]:
    totals: dict[str, int] = {}
    for lic in licenses:
        if lic.price.model is Model.REVENUE_SHARE:
            used = sum(q for key, q in by_license.get(lic.name, ()) if key.unit == "attribution")
            totals[lic.price.currency] = totals.get(lic.price.currency, 0) + used
    return totals


@dataclass(frozen=True)
class _Exact:
    """A license's lines before rounding: line i is worth numerators[i] / denominator
    minor units (one denominator per license, so sums and comparisons stay integers)."""

    lines: list[tuple[LineKey, int]]
    numerators: list[int]
    denominator: int


def _exact_lines(
    lic: LicenseTerms,
    share: Fraction,
    lines: list[tuple[LineKey, int]],
    pools: Mapping[str, int],
    attribution: dict[str, int],
) -> _Exact | None:
    price = lic.price
    scale = 10 ** minor_digits(price.currency)  # minor units per currency unit
    if price.model is Model.SUBSCRIPTION:
        if not share:
            return None
        key = LineKey(lic.name, kind="subscription")
        numerator = price.amount_micros * share.numerator * scale
        return _Exact([(key, 0)], [numerator], share.denominator * MICROS)
    unit = BILLED_UNIT.get(price.model)
    billed = [(key, q) for key, q in lines if key.unit == unit]
    if not billed:
        return None
    if price.model is Model.REVENUE_SHARE:
        # pool x share x (line's attribution / all the vendor's): the pool is in minor
        # units already.
        total = attribution.get(price.currency, 0)
        pool = pools.get(price.currency, 0)
        if not total:
            return None
        return _Exact(billed, [pool * price.share_bps * q for _, q in billed], 10_000 * total)
    per = 1_000 if price.model is Model.PER_1K_TOKENS else 1
    quantity = sum(q for _, q in billed)
    if not quantity:
        return None
    tiers = [(t.from_quantity, t.amount_micros) for t in price.tiers]
    whole = graduated(quantity, price.amount_micros, tiers)  # micros, for all the lines
    numerators = [whole * q * scale for _, q in billed]
    return _Exact(billed, numerators, per * quantity * MICROS)


def _finish(lic: LicenseTerms, share: Fraction, exact: _Exact | None) -> list[Charge]:
    price = lic.price
    currency = price.currency
    charges: list[Charge] = []
    exact_total = Fraction(0)
    if exact is not None:
        scale = 10 ** minor_digits(currency)
        numerators, denominator = exact.numerators, exact.denominator
        whole = sum(numerators)
        # whole / denominator minor units > cap_micros * scale / MICROS ?
        if price.cap_micros and whole * MICROS > price.cap_micros * scale * denominator:
            total = floor_to_minor(price.cap_micros, currency)  # never over the cap
            # Each line's exact amount scaled down so that together they are the cap.
            numerators = [n * price.cap_micros * scale for n in numerators]
            denominator = whole * MICROS
        else:
            total = divide_half_even(whole, denominator)
        keys = [key.as_text() for key, _ in exact.lines]
        amounts = apportion_scaled(total, numerators, denominator, keys)
        charges = [
            Charge(key, quantity, amount, currency, Fraction(n, denominator))
            for (key, quantity), amount, n in zip(exact.lines, amounts, numerators, strict=True)
        ]
        exact_total = Fraction(sum(numerators), denominator)
    if price.minimum_micros:
        # A shortfall when the exact usage is below the exact minimum: the license then
        # owes the minimum, rounded once.
        minimum_exact = micros_to_minor(price.minimum_micros * share, currency)
        shortfall = round_half_even(minimum_exact) - sum(c.amount for c in charges)
        if minimum_exact > exact_total and shortfall > 0:
            key = LineKey(lic.name, kind="minimum")
            charges.append(Charge(key, 0, shortfall, currency, minimum_exact - exact_total))
    return [c for c in charges if c.amount or c.quantity]


def adjustments(
    billed: Mapping[LineKey, Charge], rerated: Mapping[LineKey, Charge]
) -> list[Charge]:
    """What to bill now so that a period's charges become `rerated`: the difference per
    line, in line order (negative differences credit the vendor)."""
    out = []
    for key in sorted(set(billed) | set(rerated)):
        old, new = billed.get(key), rerated.get(key)
        amount = (new.amount if new else 0) - (old.amount if old else 0)
        quantity = (new.quantity if new else 0) - (old.quantity if old else 0)
        exact = (new.exact_amount if new else 0) - (old.exact_amount if old else 0)
        if amount or quantity:
            currency = (new or old).currency  # type: ignore[union-attr]
            out.append(Charge(key, quantity, amount, currency, Fraction(exact)))
    return out
