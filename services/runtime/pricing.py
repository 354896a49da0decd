"""Usage-priced charges, shared by settlement (which bills them) and metering (which
warns when a vendor passes a license's cap): plain integer arithmetic on micro-units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

# The usage unit each usage-priced model charges, by the model's name in the API.
METERED_UNITS = {"PER_USE": "uses", "PER_1K_TOKENS": "tokens", "PER_CRAWL": "crawls"}


def graduated(quantity: int, base_micros: int, tiers: Sequence[tuple[int, int]]) -> int:
    """Units below the first tier at the base price, then each tier's units at its own
    (`tiers`: (from_quantity, price) ascending)."""
    bounds = [(0, base_micros), *tiers]
    total = 0
    for i, (start, price) in enumerate(bounds):
        stop = bounds[i + 1][0] if i + 1 < len(bounds) else None
        if quantity <= start:
            break
        units = (quantity if stop is None else min(quantity, stop)) - start
        total += units * price
    return total


@dataclass(frozen=True)
class MeteredPrice:
    """A usage-priced model with a per-period cap."""

    model: str  # PER_USE, PER_1K_TOKENS or PER_CRAWL
    amount_micros: int
    tiers: tuple[tuple[int, int], ...]
    cap_micros: int

    @property
    def unit(self) -> str:
        return METERED_UNITS[self.model]

    def charge_micros(self, quantity: int) -> Fraction:
        per = 1_000 if self.model == "PER_1K_TOKENS" else 1
        return Fraction(graduated(quantity, self.amount_micros, self.tiers), per)

    def over_cap(self, quantity: int) -> bool:
        return self.charge_micros(quantity) > self.cap_micros
