"""Permission decisions against a table of cases: one or more per RSL rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.licensing.domain.licenses import License, LicenseState
from services.licensing.domain.permissions import Denial, PermissionIndex, WorkRef
from services.licensing.domain.terms import Price, PriceModel, Scope, Terms

T0 = datetime(2026, 11, 1, tzinfo=UTC)
VENDOR = "vendors/va"
WORK = WorkRef("publishers/pa/works/w1", "publishers/pa", "politics", frozenset({"daily"}))
OTHER_WORK = WorkRef("publishers/pa/works/w2", "publishers/pa", "sport", frozenset())
BASE = Terms(permitted_uses=("ai-input",), price=Price(PriceModel.PER_USE, "USD", 2_000))


def lic(terms: Terms = BASE, n: int = 1, **changes: object) -> License:
    base = License(
        f"l{n}",
        VENDOR,
        "publishers/pa",
        "publishers/pa/offers/o",
        f"proposals/p{n}",
        terms,
        1_500,
        LicenseState.ACTIVE,
        T0,
        None,
        T0 + timedelta(seconds=n),
        T0,
        "e",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def t(**changes: object) -> Terms:
    return replace(BASE, **changes)  # type: ignore[arg-type]


AT = T0 + timedelta(days=1)
CASES = [
    # (id, licenses, work, use, territory, user, expected denial or None)
    ("plain allow", [lic()], WORK, "ai-input", "", "commercial", None),
    ("no license", [], WORK, "ai-input", "", "commercial", Denial.NO_LICENSE),
    ("use not permitted", [lic()], WORK, "ai-train", "", "commercial", Denial.USE_NOT_PERMITTED),
    (
        "all covers every use",
        [lic(t(permitted_uses=("all",)))],
        WORK,
        "search",
        "",
        "commercial",
        None,
    ),
    (
        "ai-all covers ai-train",
        [lic(t(permitted_uses=("ai-all",)))],
        WORK,
        "ai-train",
        "",
        "commercial",
        None,
    ),
    (
        "ai-all does not cover search",
        [lic(t(permitted_uses=("ai-all",)))],
        WORK,
        "search",
        "",
        "commercial",
        Denial.USE_NOT_PERMITTED,
    ),
    (
        "prohibits beats permits",
        [lic(t(permitted_uses=("all",), prohibited_uses=("ai-train",)))],
        WORK,
        "ai-train",
        "",
        "commercial",
        Denial.USE_PROHIBITED,
    ),
    (
        "prohibited umbrella beats specific permit",
        [lic(t(permitted_uses=("ai-train",), prohibited_uses=("ai-all",)))],
        WORK,
        "ai-train",
        "",
        "commercial",
        Denial.USE_PROHIBITED,
    ),
    (
        "other uses still allowed",
        [lic(t(permitted_uses=("all",), prohibited_uses=("ai-train",)))],
        WORK,
        "ai-input",
        "",
        "commercial",
        None,
    ),
    (
        "scope by section",
        [lic(t(scope=Scope(sections=("politics",))))],
        WORK,
        "ai-input",
        "",
        "commercial",
        None,
    ),
    (
        "out of section scope",
        [lic(t(scope=Scope(sections=("politics",))))],
        OTHER_WORK,
        "ai-input",
        "",
        "commercial",
        Denial.OUT_OF_SCOPE,
    ),
    (
        "scope by tag",
        [lic(t(scope=Scope(tags=("daily",))))],
        WORK,
        "ai-input",
        "",
        "commercial",
        None,
    ),
    (
        "scope by work",
        [lic(t(scope=Scope(works=("publishers/pa/works/w2",))))],
        OTHER_WORK,
        "ai-input",
        "",
        "commercial",
        None,
    ),
    (
        "not in the work list",
        [lic(t(scope=Scope(works=("publishers/pa/works/w2",))))],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.OUT_OF_SCOPE,
    ),
    (
        "user type permitted",
        [lic(t(permitted_user_types=("education",)))],
        WORK,
        "ai-input",
        "",
        "education",
        None,
    ),
    (
        "user type not permitted",
        [lic(t(permitted_user_types=("education",)))],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.USER_TYPE_NOT_PERMITTED,
    ),
    (
        "user type prohibited",
        [lic(t(prohibited_user_types=("government",)))],
        WORK,
        "ai-input",
        "",
        "government",
        Denial.USER_TYPE_NOT_PERMITTED,
    ),
    (
        "territory permitted",
        [lic(t(permitted_territories=("US",)))],
        WORK,
        "ai-input",
        "US",
        "commercial",
        None,
    ),
    (
        "EU expands to member states",
        [lic(t(permitted_territories=("EU",)))],
        WORK,
        "ai-input",
        "FR",
        "commercial",
        None,
    ),
    (
        "outside the EU",
        [lic(t(permitted_territories=("EU",)))],
        WORK,
        "ai-input",
        "US",
        "commercial",
        Denial.TERRITORY_NOT_PERMITTED,
    ),
    (
        "territory required when limited",
        [lic(t(permitted_territories=("US",)))],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.TERRITORY_NOT_PERMITTED,
    ),
    (
        "prohibited territory beats EU permit",
        [lic(t(permitted_territories=("EU",), prohibited_territories=("DE",)))],
        WORK,
        "ai-input",
        "DE",
        "commercial",
        Denial.TERRITORY_NOT_PERMITTED,
    ),
    (
        "suspended",
        [lic(state=LicenseState.SUSPENDED)],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.SUSPENDED,
    ),
    (
        "revoked",
        [lic(state=LicenseState.REVOKED)],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.REVOKED,
    ),
    (
        "not started",
        [lic(start_time=AT + timedelta(days=1))],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.NOT_STARTED,
    ),
    ("expired", [lic(end_time=AT)], WORK, "ai-input", "", "commercial", Denial.EXPIRED),
    (
        "any one license suffices",
        [lic(state=LicenseState.REVOKED), lic(n=2)],
        WORK,
        "ai-input",
        "",
        "commercial",
        None,
    ),
    (
        "closest denial explains",
        [lic(t(scope=Scope(sections=("sport",)))), lic(t(permitted_uses=("search",)), n=2)],
        WORK,
        "ai-input",
        "",
        "commercial",
        Denial.USE_NOT_PERMITTED,
    ),
]


@pytest.mark.parametrize(
    ("licenses", "work", "use", "territory", "user", "denial"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decision(licenses, work, use, territory, user, denial) -> None:  # type: ignore[no-untyped-def]
    index = PermissionIndex()
    index.load(licenses)
    decision = index.check(VENDOR, work, use, territory, user, AT)
    assert decision.denial is denial
    assert decision.allowed is (denial is None)
    if denial is None:
        assert decision.license.startswith("licenses/")
        assert decision.price == BASE.price and decision.commission_bps == 1_500


def test_other_vendors_and_publishers_licenses_never_apply() -> None:
    index = PermissionIndex()
    index.load([lic(vendor="vendors/vb"), lic(n=2, publisher="publishers/pb")])
    assert index.check(VENDOR, WORK, "ai-input", "", "commercial", AT).denial is Denial.NO_LICENSE


def test_a_changed_license_replaces_its_grant_at_once() -> None:
    index = PermissionIndex()
    index.load([lic()])
    index.put(lic(state=LicenseState.SUSPENDED))
    assert index.check(VENDOR, WORK, "ai-input", "", "commercial", AT).denial is Denial.SUSPENDED
    index.put(lic())
    assert index.check(VENDOR, WORK, "ai-input", "", "commercial", AT).allowed
    assert len(index) == 1


HOURS = st.integers(min_value=0, max_value=48)


@st.composite
def timed_licenses(draw: st.DrawFn) -> list[License]:
    """Up to four licenses, each starting and maybe ending on an hour of a two-day grid,
    some for other uses or works, some suspended."""
    out = []
    for n in range(1, draw(st.integers(min_value=0, max_value=4)) + 1):
        start = draw(HOURS)
        length = draw(st.none() | st.integers(min_value=1, max_value=24))
        terms = draw(
            st.sampled_from(
                [BASE, t(permitted_uses=("ai-train",)), t(scope=Scope(sections=("sport",)))]
            )
        )
        state = draw(
            st.sampled_from([LicenseState.ACTIVE, LicenseState.ACTIVE, LicenseState.SUSPENDED])
        )
        out.append(
            lic(
                terms,
                n,
                state=state,
                start_time=T0 + timedelta(hours=start),
                end_time=None if length is None else T0 + timedelta(hours=start + length),
            )
        )
    return out


def _outcome(index: PermissionIndex, at: datetime) -> tuple[bool, str, Denial | None]:
    d = index.check(VENDOR, WORK, "ai-input", "", "commercial", at)
    return d.allowed, d.license, d.denial


@given(timed_licenses(), HOURS, st.sampled_from([0, 30]), st.data())
@settings(max_examples=300, deadline=None)
def test_a_decision_holds_over_the_span_it_states(
    licenses: list[License], hour: int, minutes: int, data: st.DataObject
) -> None:
    index = PermissionIndex()
    index.load(licenses)
    at = T0 + timedelta(hours=hour, minutes=minutes)  # on a license's edge, or between
    decision = index.check(VENDOR, WORK, "ai-input", "", "commercial", at)
    since = decision.valid_from or T0 - timedelta(days=30)
    until = decision.valid_until or T0 + timedelta(days=30)
    assert since <= at < until
    # Every instant of the span, its first and last microseconds included, decides alike.
    offset = data.draw(st.integers(min_value=0, max_value=int((until - since).total_seconds())))
    for moment in (
        since,
        until - timedelta(microseconds=1),
        min(since + timedelta(seconds=offset), until - timedelta(microseconds=1)),
    ):
        assert _outcome(index, moment) == _outcome(index, at)
    # The span ends where a license starts or ends, never elsewhere.
    edges = {lc.start_time for lc in licenses} | {lc.end_time for lc in licenses if lc.end_time}
    assert decision.valid_from is None or decision.valid_from in edges
    assert decision.valid_until is None or decision.valid_until in edges


WORKS = [
    WORK,
    OTHER_WORK,
    WorkRef("publishers/pa/works/w3", "publishers/pa", "", frozenset({"wire"})),
]
SCOPES = [Scope(), Scope(sections=("sport",)), Scope(tags=("wire",)), Scope(works=(WORK.name,))]


@given(
    st.lists(
        st.tuples(st.sampled_from(SCOPES), st.sampled_from(list(LicenseState)), HOURS),
        max_size=3,
    ),
    st.sampled_from(["ai-input", "ai-train", "search"]),
)
@settings(max_examples=300, deadline=None)
def test_a_decision_said_to_hold_for_every_work_does(
    drawn: list[tuple[Scope, LicenseState, int]], use: str
) -> None:
    """`every_work` lets callers keep one decision for a publisher's other works: it is
    said exactly when no license of the vendor's from the publisher narrows its scope,
    and then every work of the publisher gets the same decision."""
    licenses = [
        lic(t(scope=scope), n, state=state, start_time=T0 + timedelta(hours=hour))
        for n, (scope, state, hour) in enumerate(drawn, start=1)
    ]
    index = PermissionIndex()
    index.load(licenses)
    at = T0 + timedelta(hours=24)
    decisions = [index.check(VENDOR, w, use, "", "commercial", at) for w in WORKS]
    narrowed = any(not lc.terms.scope.is_everything for lc in licenses)
    for decision in decisions:
        assert decision.every_work is not narrowed
        if decision.every_work:
            assert decision == decisions[0]
