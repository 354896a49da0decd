"""Money: integers only, one rounding rule, splits that always add up.

Prices are integer micro-units (a millionth of the currency unit); invoices, statements
and the ledger hold integer minor units (cents for USD, yen for JPY). Amounts in between
are exact fractions. The one rounding rule: a line is rounded once, half to even (banker's
rounding), when it becomes minor units. A whole is divided into parts by the largest
remainder method, so the parts always sum to the whole and each part is within one minor
unit of its exact quota.
"""

from __future__ import annotations

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


def minor_to_micros(amount_minor: int, currency: str) -> Fraction:
    return Fraction(amount_minor * MICROS, 10 ** minor_digits(currency))


def round_half_even(amount: Fraction) -> int:
    """The one rounding rule (Python rounds a Fraction half to even)."""
    return round(amount)


def allocate(total: int, weights: Sequence[Fraction | int], keys: Sequence[str]) -> list[int]:
    """Split `total` in proportion to `weights` (not negative, not all zero) by the largest
    remainder: floor every exact quota, then give the units left over, one each, to the
    largest remainders; equal remainders go in ascending `keys` order. A negative total
    is split as its opposite, then negated, so credits split like debits."""
    if total < 0:
        return [-part for part in allocate(-total, weights, keys)]
    whole = sum(Fraction(w) for w in weights)
    if whole <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    quotas = [Fraction(total) * Fraction(w) / whole for w in weights]
    parts = [q.numerator // q.denominator for q in quotas]
    left = total - sum(parts)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), keys[i]))
    for i in order[:left]:
        parts[i] += 1
    return parts
