"""Cap warnings in metering and the graduated pricing settlement and metering share."""

from __future__ import annotations

from datetime import UTC, datetime

from services.metering.domain.caps import over_cap
from services.metering.domain.events import Unit, UsageEvent
from services.runtime.pricing import MeteredPrice, graduated

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def event(
    event_id: str, quantity: int, unit: Unit = Unit.TOKENS, lic: str = "licenses/a"
) -> UsageEvent:
    return UsageEvent(event_id, lic, "publishers/p/works/w", "ai-input", unit, quantity, NOW)


def test_graduated_prices_each_unit_at_its_tier() -> None:
    tiers = [(100, 5), (200, 1)]
    assert graduated(0, 10, tiers) == 0
    assert graduated(100, 10, tiers) == 1_000
    assert graduated(250, 10, tiers) == 1_000 + 500 + 50
    assert graduated(50, 10, []) == 500


def test_the_event_that_passes_the_cap_and_those_after_are_flagged() -> None:
    # $2 per 1,000 tokens, capped at $1: over from the 501st token on.
    price = MeteredPrice("PER_1K_TOKENS", 2_000_000, (), 1_000_000)
    events = [event("a", 200), event("b", 300), event("c", 1), event("d", 5, Unit.USES)]
    assert over_cap(events, {"licenses/a": price}, {"licenses/a": 0}) == {"c"}
    assert over_cap(events, {"licenses/a": price}, {"licenses/a": 250}) == {"b", "c"}
    assert over_cap(events, {}, {}) == set()
