"""Money: integers only, one rounding rule, splits that always add up.

Prices are integer micro-units (a millionth of the currency unit); invoices, statements
and the ledger hold integer minor units (cents for USD, yen for JPY). Amounts in between
are exact fractions. The one rounding rule: money is rounded once, half to even
(banker's rounding), where it becomes owed: a license's total for a period, and the
commission on it. Everything below that total (the license's lines, each rights holder's
share, each holder's lines) is apportioned from the rounded total by the largest
remainder method against the exact amounts, so parts always sum to their whole and each
part is within one minor unit of its exact amount: a million uses at $0.0004 bill
$400.00, and each of them shows $0.00 or $0.01, never a total of either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from services.runtime.money_text import MICROS, minor_digits, minor_text

__all__ = ["MICROS", "minor_digits"]


def micros_to_minor(amount_micros: Fraction | int, currency: str) -> Fraction:
    """Exact: no rounding here."""
    return Fraction(amount_micros) * 10 ** minor_digits(currency) / MICROS


def floor_to_minor(amount_micros: int, currency: str) -> int:
    """A ceiling (a cap) in minor units: rounded down, so nothing bills over it."""
    return amount_micros * 10 ** minor_digits(currency) // MICROS


def round_half_even(amount: Fraction) -> int:
    """The one rounding rule (Python rounds a Fraction half to even)."""
    return round(amount)


def divide_half_even(numerator: int, denominator: int) -> int:
    """round_half_even(numerator / denominator) in integers (denominator > 0): the same
    rule without building fractions, for the hundreds of thousands of lines of a close."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def allocate(total: int, weights: Sequence[Fraction | int], keys: Sequence[str]) -> list[int]:
    """Split `total` in proportion to `weights` (not negative, not all zero) by the largest
    remainder: floor every exact quota, then give the units left over, one each, to the
    largest remainders; equal remainders go in ascending `keys` order. A negative total
    is split as its opposite, then negated, so credits split like debits."""
    if total < 0:
        return [-part for part in allocate(-total, weights, keys)]
    scaled = _integers(weights)
    whole = sum(scaled)
    if whole <= 0 or any(w < 0 for w in scaled):
        raise ValueError("weights must be non-negative and not all zero")
    # Every quota total * w / whole shares the denominator `whole`: integer floors and
    # remainders order the parts exactly as the fractions would.
    shares = [divmod(total * w, whole) for w in scaled]
    parts = [floor for floor, _ in shares]
    left = total - sum(parts)
    if left:
        order = sorted(range(len(shares)), key=lambda i: (-shares[i][1], keys[i]))
        for i in order[:left]:
            parts[i] += 1
    return parts


def apportion(total: int, exact: Sequence[Fraction], keys: Sequence[str]) -> list[int]:
    """Split `total` into parts that follow the exact amounts `exact` (any signs; their
    sum within a unit or so of `total`, as when `total` is their rounded sum): floor
    each, then add the units left over (or take the units missing) one at a time, the
    largest remainders first (the smallest first when taking), equal remainders in
    ascending `keys` order. The parts sum to `total`; when |total - sum(exact)| <= 1 each
    part is within one minor unit of its exact amount."""
    common = math.lcm(*(Fraction(x).denominator for x in exact)) if exact else 1
    numerators = [int(Fraction(x) * common) for x in exact]
    return apportion_scaled(total, numerators, common, keys)


def apportion_scaled(
    total: int, numerators: Sequence[int], denominator: int, keys: Sequence[str]
) -> list[int]:
    """`apportion` of the exact amounts numerators[i] / denominator, in integers."""
    if not numerators:
        if total:
            raise ValueError("nothing to apportion a non-zero total over")
        return []
    shares = [divmod(n, denominator) for n in numerators]
    parts = [floor for floor, _ in shares]
    left = total - sum(parts)
    if not left:
        return parts
    step = 1 if left > 0 else -1
    rounds, extra = divmod(abs(left), len(parts))
    if rounds:
        parts = [p + step * rounds for p in parts]
    if extra:
        sign = -step  # adding: largest remainders first; taking: smallest first
        order = sorted(range(len(parts)), key=lambda i: (sign * shares[i][1], keys[i]))
        for i in order[:extra]:
            parts[i] += step
    return parts


def _integers(weights: Sequence[Fraction | int]) -> list[int]:
    """The weights scaled by a common denominator (proportions unchanged)."""
    if all(isinstance(w, int) for w in weights):
        return list(weights)  # type: ignore[arg-type]
    fractions = [Fraction(w) for w in weights]
    common = math.lcm(*(f.denominator for f in fractions))
    return [f.numerator * (common // f.denominator) for f in fractions]


def decimal_text(amount: int, currency: str) -> str:
    """Minor units as a decimal in the currency's unit: 1234 USD -> `12.34`."""
    return minor_text(amount, currency)
