"""Rating: one vendor's usage in one period, priced with each license's frozen terms.

Per license, in order:
1. Metered models price the usage in their unit: per use, per crawl, per 1,000 tokens;
   volume tiers are graduated (from a tier's `from_quantity` on, units cost the tier's
   price) over the license's whole usage in the period, and the total is spread over the
   license's lines in proportion to their quantities. Revenue share gives each line
   `share_bps` of the vendor's pool for the period times the line's share of all the
   vendor's attribution usage in that currency. A subscription is one line, prorated by
   the part of the period the license was in force.
2. Each line is rounded once, half to even, to minor units.
3. A cap binds when the exact total exceeds it: the cap (rounded down to minor units) is
   then split over the lines in proportion to their exact amounts (largest remainder).
4. A minimum commitment (prorated like a subscription) adds one line for the shortfall.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from services.settlement.domain.money import allocate, micros_to_minor, minor_to_micros
from services.settlement.domain.terms import BILLED_UNIT, LicenseTerms, Model, Period, Tier


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
        share = period.active_share(lic)
        lines = sorted(by_license.get(lic.name, ()))
        if not share and not lines:
            continue
        exact = _exact_lines(lic, share, lines, pools, attribution)
        for charge in _finish(lic, share, exact):
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


def _exact_lines(
    lic: LicenseTerms,
    share: Fraction,
    lines: list[tuple[LineKey, int]],
    pools: Mapping[str, int],
    attribution: dict[str, int],
) -> list[tuple[LineKey, int, Fraction]]:
    """(key, quantity, exact amount in micros) per line before rounding."""
    price = lic.price
    if price.model is Model.SUBSCRIPTION:
        if not share:
            return []
        return [(LineKey(lic.name, kind="subscription"), 0, price.amount_micros * share)]
    unit = BILLED_UNIT.get(price.model)
    billed = [(key, q) for key, q in lines if key.unit == unit]
    if not billed:
        return []
    if price.model is Model.REVENUE_SHARE:
        pool = minor_to_micros(pools.get(price.currency, 0), price.currency)
        total = attribution.get(price.currency, 0)
        rate = pool * price.share_bps / 10_000 / total if total else Fraction(0)
        return [(key, q, rate * q) for key, q in billed]
    per = 1_000 if price.model is Model.PER_1K_TOKENS else 1
    quantity = sum(q for _, q in billed)
    whole = _graduated(quantity, price.amount_micros, price.tiers) / per
    return [(key, q, whole * q / quantity if quantity else Fraction(0)) for key, q in billed]


def _graduated(quantity: int, base_micros: int, tiers: tuple[Tier, ...]) -> Fraction:
    """Units below the first tier at the base price, then each tier's units at its own."""
    bounds = [(0, base_micros), *((t.from_quantity, t.amount_micros) for t in tiers)]
    total = Fraction(0)
    for i, (start, price) in enumerate(bounds):
        stop = bounds[i + 1][0] if i + 1 < len(bounds) else None
        if quantity <= start:
            break
        units = (quantity if stop is None else min(quantity, stop)) - start
        total += units * price
    return total


def _finish(
    lic: LicenseTerms, share: Fraction, exact: list[tuple[LineKey, int, Fraction]]
) -> list[Charge]:
    price = lic.price
    currency = price.currency
    whole = sum((amount for _, _, amount in exact), Fraction(0))
    if price.cap_micros and whole > price.cap_micros:
        cap = int(micros_to_minor(price.cap_micros, currency))  # rounded down: never over
        amounts = allocate(cap, [a for _, _, a in exact], [k.as_text() for k, _, _ in exact])
    else:
        amounts = [round(micros_to_minor(a, currency)) for _, _, a in exact]
    charges = [
        Charge(key, quantity, amount, currency)
        for (key, quantity, _), amount in zip(exact, amounts, strict=True)
    ]
    minimum = round(micros_to_minor(price.minimum_micros * share, currency))
    shortfall = minimum - sum(amounts)
    if price.minimum_micros and shortfall > 0:
        charges.append(Charge(LineKey(lic.name, kind="minimum"), 0, shortfall, currency))
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
        if amount or quantity:
            currency = (new or old).currency  # type: ignore[union-attr]
            out.append(Charge(key, quantity, amount, currency))
    return out
