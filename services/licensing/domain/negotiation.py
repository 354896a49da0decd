"""Negotiation: a vendor proposes, the parties counter in turn, one side settles it.

Rules (each enforced here, so every entry point obeys them):
- only a PUBLISHED offer can be negotiated;
- taking the offer's terms as they are, or a price at or above the offer's auto-accept
  floor (nothing else changed), settles at once without the publisher;
- only the party whose turn it is may counter, accept or reject;
- nothing can be done to a settled (accepted, rejected) or expired proposal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from services.licensing.domain.offers import Offer, OfferState, new_etag
from services.licensing.domain.terms import Terms, changed_fields, differs_only_in_price_amount
from services.runtime.errors import FailedPrecondition, InvalidArgument


class ProposalState(Enum):
    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class Party(Enum):
    VENDOR = "VENDOR"
    PUBLISHER = "PUBLISHER"

    @property
    def other(self) -> Party:
        return Party.PUBLISHER if self is Party.VENDOR else Party.VENDOR


class Action(Enum):
    PROPOSED = "PROPOSED"
    COUNTERED = "COUNTERED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    AUTO_ACCEPTED = "AUTO_ACCEPTED"


@dataclass(frozen=True)
class Step:
    action: Action
    actor: str
    time: datetime
    terms: Terms
    changed_fields: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Proposal:
    id: str
    offer: str
    vendor: str
    publisher: str
    terms: Terms
    state: ProposalState  # stored OPEN, ACCEPTED or REJECTED; EXPIRED is derived
    turn: Party
    steps: tuple[Step, ...]
    create_time: datetime
    expire_time: datetime
    etag: str
    license: str = ""
    accept_request_id: str = ""

    @property
    def name(self) -> str:
        return f"proposals/{self.id}"

    def state_at(self, at: datetime) -> ProposalState:
        if self.state is ProposalState.OPEN and at >= self.expire_time:
            return ProposalState.EXPIRED
        return self.state

    def party_of(self, account: str) -> Party | None:
        if account == self.vendor:
            return Party.VENDOR
        if account == self.publisher:
            return Party.PUBLISHER
        return None


def open_proposal(
    proposal_id: str,
    vendor: str,
    offer: Offer,
    terms: Terms | None,
    note: str,
    now: datetime,
    expire_time: datetime,
) -> Proposal:
    if offer.state is not OfferState.PUBLISHED:
        raise FailedPrecondition(
            "OFFER_NOT_PUBLISHED", f"{offer.name} is {offer.state.value}; it cannot be licensed"
        )
    proposed = offer.terms if terms is None else terms
    first = Step(
        Action.PROPOSED, vendor, now, proposed, tuple(changed_fields(offer.terms, proposed)), note
    )
    proposal = Proposal(
        id=proposal_id,
        offer=offer.name,
        vendor=vendor,
        publisher=offer.publisher,
        terms=proposed,
        state=ProposalState.OPEN,
        turn=Party.PUBLISHER,
        steps=(first,),
        create_time=now,
        expire_time=expire_time,
        etag=new_etag(),
    )
    return _auto_accept(proposal, offer, now)


def counter(
    p: Proposal, party: Party, actor: str, terms: Terms, note: str, offer: Offer, now: datetime
) -> Proposal:
    _require_turn(p, party, now)
    if terms == p.terms:
        raise InvalidArgument(
            "TERMS_UNCHANGED", "a counter-proposal must change something; accept instead"
        )
    step = Step(Action.COUNTERED, actor, now, terms, tuple(changed_fields(p.terms, terms)), note)
    countered = replace(p, terms=terms, turn=party.other, steps=(*p.steps, step), etag=new_etag())
    return _auto_accept(countered, offer, now) if party is Party.VENDOR else countered


def accept(p: Proposal, party: Party, actor: str, request_id: str, now: datetime) -> Proposal:
    _require_turn(p, party, now)
    return _settle(p, Action.ACCEPTED, actor, now, request_id=request_id)


def reject(p: Proposal, party: Party, actor: str, note: str, now: datetime) -> Proposal:
    _require_turn(p, party, now)
    return _settle(p, Action.REJECTED, actor, now, note=note)


def _auto_accept(p: Proposal, offer: Offer, now: datetime) -> Proposal:
    """Settles without the publisher: the offer taken as is, or a price at the floor."""
    if offer.state is not OfferState.PUBLISHED:
        return p
    as_is = p.terms == offer.terms
    floor = offer.auto_accept_floor_micros
    at_floor = (
        floor > 0
        and differs_only_in_price_amount(offer.terms, p.terms)
        and p.terms.price.amount_micros >= floor
    )
    if not (as_is or at_floor):
        return p
    note = "the offer's terms as published" if as_is else f"price at or above the floor {floor}"
    return _settle(p, Action.AUTO_ACCEPTED, offer.publisher, now, note=note)


def _settle(
    p: Proposal, action: Action, actor: str, now: datetime, note: str = "", request_id: str = ""
) -> Proposal:
    state = ProposalState.REJECTED if action is Action.REJECTED else ProposalState.ACCEPTED
    step = Step(action, actor, now, p.terms, (), note)
    return replace(
        p, state=state, steps=(*p.steps, step), etag=new_etag(), accept_request_id=request_id
    )


def _require_turn(p: Proposal, party: Party, now: datetime) -> None:
    state = p.state_at(now)
    if state is ProposalState.EXPIRED:
        raise FailedPrecondition("PROPOSAL_EXPIRED", f"{p.name} expired at {p.expire_time}")
    if state is not ProposalState.OPEN:
        raise FailedPrecondition("PROPOSAL_SETTLED", f"{p.name} is already {state.value}")
    if p.turn is not party:
        raise FailedPrecondition(
            "NOT_YOUR_TURN", f"it is the {p.turn.value.lower()}'s turn on {p.name}"
        )
