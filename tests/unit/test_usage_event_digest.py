"""The payload digest is stored with every event key and compared for 35 days: the same
payload must keep the same digest across releases, or retries after an upgrade would be
answered CONFLICT. These digests were computed once and are pinned here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.metering.domain.events import Correction, Unit, UsageEvent

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)


def event(**changes: object) -> UsageEvent:
    fields: dict[str, object] = {
        "id": "e-1",
        "license": "licenses/l1",
        "work": "publishers/p/works/w",
        "use": "ai-input",
        "unit": Unit.TOKENS,
        "quantity": 120,
        "occur_time": AT,
        "source": "serving-eu",
    }
    fields.update(changes)
    return UsageEvent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "digest"),
    [
        ({}, "bb98c354fec0504bd9f7987cc01105e4"),
        ({"attributes": (("country", "FR"), ("model", "m-7"))}, "0ade7eec7bf09e4b79f11457a33169e6"),
        ({"correction": Correction.AMEND, "corrects": "e-0"}, "c2b2908f8571ab7e6752932f421b53ed"),
        ({"unit": None, "occur_time": None, "source": ""}, "5e540ef3c6c902ae95e8833e2797f083"),
    ],
)
def test_the_digest_of_a_payload_never_changes(changes: dict[str, object], digest: str) -> None:
    assert event(**changes).digest().hex() == digest


def test_the_id_is_not_part_of_the_digest() -> None:
    assert event(id="a").digest() == event(id="b").digest()


def test_an_instant_has_one_digest_whatever_its_zone() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert event(occur_time=paris).digest() == event().digest()


@pytest.mark.parametrize(
    "changes",
    [
        {"license": "licenses/l2"},
        {"work": "publishers/p/works/x"},
        {"use": "ai-train"},
        {"unit": Unit.USES},
        {"quantity": 121},
        {"occur_time": AT + timedelta(microseconds=1)},
        {"source": "serving-us"},
        {"attributes": (("country", "FR"),)},
        {"correction": Correction.VOID, "corrects": "e-0"},
    ],
)
def test_every_field_but_the_id_changes_the_digest(changes: dict[str, object]) -> None:
    assert event(**changes).digest() != event().digest()
