"""The catalog domain and validation, without infrastructure."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.catalog.domain.model import (
    MUTABLE_FIELDS,
    RightsHolder,
    WorkFields,
    count_words,
    register_work,
    revise_work,
)
from services.catalog.domain.validation import check_work
from services.runtime.errors import Violations

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 2, tzinfo=UTC)


def fields(**overrides: object) -> WorkFields:
    base: dict[str, object] = dict(title="T", body="One two three.", language="en")
    base.update(overrides)
    return WorkFields(**base)  # type: ignore[arg-type]


def test_registered_work_defaults_rights_to_its_publisher() -> None:
    work = register_work("acme", "w1", fields(), NOW)
    assert work.version == 1 and work.word_count == 3
    assert work.fields.rights_holders == (RightsHolder("publishers/acme", "", 10_000),)


def test_body_change_makes_a_version_metadata_change_does_not() -> None:
    work = register_work("acme", "w1", fields(), NOW)
    retitled = revise_work(work, fields(title="New"), frozenset({"title"}), LATER)
    assert retitled is not None and retitled.version == 1 and retitled.etag != work.etag
    rewritten = revise_work(work, fields(body="Other text"), frozenset({"body"}), LATER)
    assert rewritten is not None and rewritten.version == 2
    assert rewritten.content_hash != work.content_hash
    assert revise_work(work, fields(), MUTABLE_FIELDS, LATER) is None


def test_word_count_keeps_contractions_and_hyphenations_whole() -> None:
    assert count_words("It's a well-known fact, isn\u2019t it?") == 6
    assert count_words("It's a well-known fact, isn't it?") == 6  # ASCII text


WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")


@given(
    st.text(alphabet="ab_9\u00e9\u4e2d\u0663 \t\n'\u2019-.,", max_size=40)
    | st.text(max_size=40)
    | st.text(alphabet="aZ_9 \t\n'-.,\x00\x7f", max_size=60)  # ASCII: counted without regex
)
def test_word_count_is_the_number_of_words_ascii_or_not(body: str) -> None:
    assert count_words(body) == sum(1 for _ in WORD.finditer(body))


@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=6))
def test_shares_are_valid_exactly_when_they_sum_to_10000(shares: list[int]) -> None:
    holders = tuple(RightsHolder(f"people/p{i}", "", s) for i, s in enumerate(shares))
    v = Violations()
    check_work(fields(rights_holders=holders), v)
    assert (not v.items) == (sum(shares) == 10_000)


def test_validation_reports_every_problem_with_its_path() -> None:
    v = Violations()
    check_work(
        fields(title="", language="xx_YY", canonical_url="not a url", tags=("a", "a")),
        v,
        "works[3]",
    )
    assert sorted(x.field for x in v.items) == [
        "works[3].canonical_url",
        "works[3].language",
        "works[3].tags",
        "works[3].title",
    ]
