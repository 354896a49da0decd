"""The negotiation state machine: every legal and illegal move, and random sequences."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.licensing.domain import negotiation as n
from services.licensing.domain.negotiation import Party, ProposalState
from services.licensing.domain.offers import Offer, OfferState
from services.licensing.domain.terms import Price, PriceModel, Terms
from services.runtime.errors import FailedPrecondition, InvalidArgument

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EXPIRES = T0 + timedelta(days=7)
VENDOR, PUBLISHER = "vendors/va", "publishers/pa"
BASE = Terms(permitted_uses=("ai-input",), price=Price(PriceModel.PER_USE, "USD", 2_000))


def offer(floor: int = 0, state: OfferState = OfferState.PUBLISHED) -> Offer:
    return Offer("pa", "o1", "Offer", BASE, floor, state, T0, T0, "e")


def priced(amount: int) -> Terms:
    return replace(BASE, price=replace(BASE.price, amount_micros=amount))


def open_at(amount: int, floor: int = 0) -> n.Proposal:
    return n.open_proposal("p1", VENDOR, offer(floor), priced(amount), "", T0, EXPIRES)


def test_taking_the_offer_as_is_settles_at_once() -> None:
    p = n.open_proposal("p1", VENDOR, offer(), None, "", T0, EXPIRES)
    assert p.state is ProposalState.ACCEPTED
    assert [s.action for s in p.steps] == [n.Action.PROPOSED, n.Action.AUTO_ACCEPTED]


def test_other_terms_wait_for_the_publisher() -> None:
    p = open_at(1_000)
    assert (p.state, p.turn) == (ProposalState.OPEN, Party.PUBLISHER)
    assert p.steps[0].changed_fields == ("price.amount_micros",)


def test_price_at_the_floor_is_auto_accepted_below_it_is_not() -> None:
    assert open_at(1_500, floor=1_500).state is ProposalState.ACCEPTED
    assert open_at(1_499, floor=1_500).state is ProposalState.OPEN
    other_uses = replace(priced(5_000), permitted_uses=("ai-train",))
    with_other_uses = n.open_proposal("p", VENDOR, offer(1_500), other_uses, "", T0, EXPIRES)
    assert with_other_uses.state is ProposalState.OPEN  # the floor is about price only


def test_counters_alternate_and_either_side_can_settle_on_its_turn() -> None:
    p = open_at(1_000)
    p = n.counter(p, Party.PUBLISHER, PUBLISHER, priced(1_800), "", offer(), T0)
    assert p.turn is Party.VENDOR
    p = n.counter(p, Party.VENDOR, VENDOR, priced(1_400), "", offer(), T0)
    assert p.turn is Party.PUBLISHER
    accepted = n.accept(p, Party.PUBLISHER, PUBLISHER, "r1", T0)
    assert accepted.state is ProposalState.ACCEPTED
    assert accepted.terms == priced(1_400)
    assert [s.action.value for s in accepted.steps] == [
        "PROPOSED",
        "COUNTERED",
        "COUNTERED",
        "ACCEPTED",
    ]
    rejected = n.reject(p, Party.PUBLISHER, PUBLISHER, "too low", T0)
    assert rejected.state is ProposalState.REJECTED


def test_vendor_counter_at_the_floor_settles() -> None:
    p = open_at(1_000, floor=1_500)
    p = n.counter(p, Party.PUBLISHER, PUBLISHER, priced(1_800), "", offer(1_500), T0)
    p = n.counter(p, Party.VENDOR, VENDOR, priced(1_500), "", offer(1_500), T0)
    assert p.state is ProposalState.ACCEPTED


@pytest.mark.parametrize(
    ("move", "reason"),
    [
        (lambda p: n.accept(p, Party.VENDOR, VENDOR, "", T0), "NOT_YOUR_TURN"),
        (lambda p: n.reject(p, Party.VENDOR, VENDOR, "", T0), "NOT_YOUR_TURN"),
        (
            lambda p: n.counter(p, Party.VENDOR, VENDOR, priced(9), "", offer(), T0),
            "NOT_YOUR_TURN",
        ),
        (lambda p: n.accept(p, Party.PUBLISHER, PUBLISHER, "", EXPIRES), "PROPOSAL_EXPIRED"),
        (
            lambda p: n.accept(
                n.accept(p, Party.PUBLISHER, PUBLISHER, "", T0), Party.PUBLISHER, PUBLISHER, "", T0
            ),
            "PROPOSAL_SETTLED",
        ),
        (
            lambda p: n.counter(
                n.reject(p, Party.PUBLISHER, PUBLISHER, "", T0),
                Party.PUBLISHER,
                PUBLISHER,
                priced(9),
                "",
                offer(),
                T0,
            ),
            "PROPOSAL_SETTLED",
        ),
    ],
)
def test_illegal_moves_fail_with_a_reason(move, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FailedPrecondition) as raised:
        move(open_at(1_000))
    assert raised.value.reason == reason


def test_a_counter_must_change_something() -> None:
    with pytest.raises(InvalidArgument):
        n.counter(open_at(1_000), Party.PUBLISHER, PUBLISHER, priced(1_000), "", offer(), T0)


def test_only_published_offers_can_be_negotiated() -> None:
    for state in (OfferState.DRAFT, OfferState.WITHDRAWN):
        with pytest.raises(FailedPrecondition) as raised:
            n.open_proposal("p", VENDOR, offer(state=state), None, "", T0, EXPIRES)
        assert raised.value.reason == "OFFER_NOT_PUBLISHED"


moves = st.lists(
    st.tuples(
        st.sampled_from(["counter", "accept", "reject"]),
        st.sampled_from(list(Party)),
        st.integers(min_value=1, max_value=3_000),
        st.integers(min_value=0, max_value=8),  # days after T0
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(first=st.integers(min_value=1, max_value=3_000), floor=st.integers(0, 3_000), script=moves)
def test_random_sequences_keep_the_rules(first: int, floor: int, script: list) -> None:  # type: ignore[type-arg]
    p = open_at(first, floor)
    for action, party, amount, day in script:
        at = T0 + timedelta(days=day)
        actor = VENDOR if party is Party.VENDOR else PUBLISHER
        before = p
        legal = p.state_at(at) is ProposalState.OPEN and p.turn is party
        try:
            if action == "counter":
                p = n.counter(p, party, actor, priced(amount), "", offer(floor), at)
            elif action == "accept":
                p = n.accept(p, party, actor, "", at)
            else:
                p = n.reject(p, party, actor, "", at)
        except (FailedPrecondition, InvalidArgument):
            assert p is before  # a refused move changes nothing
            assert not legal or (action == "counter" and priced(amount) == before.terms)
            continue
        assert legal, "an illegal move was allowed"
        assert len(p.steps) > len(before.steps)
        assert p.steps[: len(before.steps)] == before.steps  # history is append-only
        if p.state is ProposalState.OPEN:
            assert p.turn is party.other
    # Whatever happened, a settled proposal's last step says how it was settled.
    if p.state is not ProposalState.OPEN:
        assert p.steps[-1].action in (n.Action.ACCEPTED, n.Action.REJECTED, n.Action.AUTO_ACCEPTED)
