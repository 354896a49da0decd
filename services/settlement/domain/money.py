"""Money: integers only, one rounding rule, splits that always add up.

Prices are integer micro-units (a millionth of the currency unit); invoices, statements
and the ledger hold integer minor units (cents for USD, yen for JPY). Amounts in between
are exact fractions. The one rounding rule: a line is rounded once, half to even (banker's
rounding), when it becomes minor units. A whole is divided into parts by the largest
remainder method, so the parts always sum to the whole and each part is within one minor
unit of its exact quota.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

MICROS = 1_000_000

# ISO 4217 minor-unit digits that differ from the usual 2.
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency, 2)


def micros_to_minor(amount_micros: Fraction | int, currency: str) -> Fraction:
    """Exact: no rounding here."""
    return Fraction(amount_micros) * 10 ** minor_digits(currency) / MICROS


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


def _integers(weights: Sequence[Fraction | int]) -> list[int]:
    """The weights scaled by a common denominator (proportions unchanged)."""
    if all(isinstance(w, int) for w in weights):
        return list(weights)  # type: ignore[arg-type]
    fractions = [Fraction(w) for w in weights]
    common = math.lcm(*(f.denominator for f in fractions))
    return [f.numerator * (common // f.denominator) for f in fractions]


def decimal_text(amount: int, currency: str) -> str:
    """Minor units as a decimal in the currency's unit: 1234 USD -> `12.34`."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}" if digits else f"{sign}{whole}"
