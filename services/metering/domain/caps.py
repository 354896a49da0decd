"""Caps: which accepted events take a license's charges for the open period past its
per-period cap. They are still counted (they happened); the result says so, and
settlement bills no more than the cap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.metering.domain.events import UsageEvent
from services.runtime.pricing import MeteredPrice

OVER_CAP = "OVER_CAP"


def over_cap(
    events: Sequence[UsageEvent],
    prices: Mapping[str, MeteredPrice],
    used: Mapping[str, int],
) -> set[str]:
    """Ids of the events (in order) from which each capped license is over its cap;
    `used`: each license's quantity in the open period before these events."""
    running = dict(used)
    flagged = set()
    for event in events:
        price = prices.get(event.license)
        if price is None or event.unit is None or event.unit.value != price.unit:
            continue
        running[event.license] = running.get(event.license, 0) + event.counted_quantity
        if price.over_cap(running[event.license]):
            flagged.add(event.id)
    return flagged
