"""The payload digest is stored with every event key and compared for 35 days: the same
payload must keep the same digest across releases, or retries after an upgrade would be
answered CONFLICT. These digests were computed once and are pinned here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.metering.domain.events import DIGEST_VERSION, Correction, Unit, UsageEvent

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


CASES = [
    {},
    {"attributes": (("country", "FR"), ("model", "m-7"))},
    {"correction": Correction.AMEND, "corrects": "e-0"},
    {"unit": None, "occur_time": None, "source": ""},
]


@pytest.mark.parametrize(
    ("changes", "digest"),
    list(
        zip(
            CASES,
            [
                "322ed6cd2b3fb4d9fdb3f7b902c22fed",
                "396d47c92232d7d906662c23e9322319",
                "16ee07dd3d6d3277932620f0aacf9e10",
                "e2d982b53823401f8f9a8faff7628668",
            ],
            strict=True,
        )
    ),
)
def test_the_digest_of_a_payload_never_changes(changes: dict[str, object], digest: str) -> None:
    assert event(**changes).digest().hex() == digest
    assert event(**changes).same_payload(bytes([DIGEST_VERSION]) + bytes.fromhex(digest))


@pytest.mark.parametrize(
    ("changes", "digest"),
    list(
        zip(
            CASES,
            [
                "bb98c354fec0504bd9f7987cc01105e4",
                "0ade7eec7bf09e4b79f11457a33169e6",
                "c2b2908f8571ab7e6752932f421b53ed",
                "5e540ef3c6c902ae95e8833e2797f083",
            ],
            strict=True,
        )
    ),
)
def test_keys_stored_under_version_1_keep_their_answers(
    changes: dict[str, object], digest: str
) -> None:
    """Digests stored before version 2 (pinned when they were made) still match."""
    assert event(**changes).legacy_digest().hex() == digest
    assert event(**changes).same_payload(b"\x01" + bytes.fromhex(digest))
    assert not event(quantity=7).same_payload(b"\x01" + bytes.fromhex(digest))
    # A version-2 key with those bytes is another payload.
    assert not event(**changes).same_payload(bytes([DIGEST_VERSION]) + bytes.fromhex(digest))


def test_no_two_payloads_share_a_digest_through_separators_or_nanoseconds() -> None:
    joined = event(attributes=(("a", "1\x1fb=2"),))
    apart = event(attributes=(("a", "1"), ("b", "2")))
    assert joined.legacy_digest() == apart.legacy_digest()  # what version 1 confused
    assert joined.digest() != apart.digest()
    assert event(occur_nanos=0).digest() != event(occur_nanos=999).digest()
    assert event(source="a", corrects="").digest() != event(source="", corrects="a").digest()


@settings(max_examples=500, deadline=None)
@given(
    first=st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)),
    second=st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)),
)
def test_different_payloads_have_different_digests(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    def of(values: tuple[str, str, str]) -> bytes:
        source, key, value = values
        attributes = ((key, value),) if key else ()
        return event(source=source, attributes=attributes).digest()

    same = (first[0], first[1], first[2] if first[1] else "") == (
        second[0],
        second[1],
        second[2] if second[1] else "",
    )
    assert (of(first) == of(second)) == same


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
