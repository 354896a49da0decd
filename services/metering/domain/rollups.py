"""Hourly totals, aggregated in memory per batch before they are written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from services.metering.domain.events import UsageEvent, hour_of
from services.metering.domain.seals import Fence


class RollupKey(NamedTuple):  # a tuple: one is made per event, and hashed
    vendor: str
    publisher: str
    license: str
    work: str
    use: str
    unit: str
    hour: datetime
    late_seal: int


@dataclass(slots=True)
class Totals:
    quantity: int = 0
    events: int = 0


def roll_up(vendor: str, events: Iterable[UsageEvent], fence: Fence) -> dict[RollupKey, Totals]:
    totals: dict[RollupKey, Totals] = {}
    for e in events:
        assert e.unit is not None and e.occur_time is not None
        key = RollupKey(
            vendor,
            e.publisher,
            e.license,
            e.work,
            e.use,
            e.unit.value,
            hour_of(e.occur_time),
            fence.late_seal(e.occur_time),
        )
        entry = totals.get(key)
        if entry is None:
            entry = totals[key] = Totals()
        entry.quantity += e.counted_quantity
        entry.events += 1
    return totals


def sorted_keys(totals: dict[RollupKey, Totals]) -> list[RollupKey]:
    """A fixed order of upserts: concurrent batches lock rollup rows in the same order."""
    return sorted(totals)
