"""Negotiation use cases: propose, counter, accept (granting a license), reject, read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from services.licensing.domain import negotiation as rules
from services.licensing.domain.licenses import License, LicenseState
from services.licensing.domain.negotiation import Party, Proposal, ProposalState
from services.licensing.domain.offers import Offer, new_etag
from services.licensing.domain.terms import Terms, check_terms
from services.licensing.service_layer import access
from services.licensing.service_layer.offers import OfferService, parse_offer_name
from services.licensing.service_layer.unit_of_work import LicensingUnitOfWork, UnitOfWorkFactory
from services.runtime import pagination, resource_names
from services.runtime.errors import Conflict, FieldViolation, InvalidArgument, NotFound, Violations
from services.runtime.principal import Principal, require
from services.runtime.sqltypes import utc_now

DEFAULT_TTL = timedelta(days=7)
MAX_TTL = timedelta(days=30)
GRANTED = "GRANTED"


class NegotiationService:
    def __init__(self, uow: UnitOfWorkFactory, offers: OfferService) -> None:
        self._uow = uow
        self._offers = offers

    def create(
        self,
        p: Principal,
        offer_name: str,
        terms: Terms | None,
        ttl: timedelta | None,
        note: str,
        request_id: str,
    ) -> tuple[Proposal, License | None]:
        access.vendor_only(p, "propose terms")
        publisher_id, offer_id = parse_offer_name(offer_name, "offer")
        ttl = _check_ttl(ttl)
        if terms is not None:
            _check_proposed(terms, f"publishers/{publisher_id}")
        now = utc_now()
        with self._uow() as uow:
            if request_id and (known := uow.requests.resource_for(p.account, request_id)):
                return self._with_license(uow, self._load(uow, known.split("/", 1)[1]))
            offer = uow.offers.get(publisher_id, offer_id)
            if offer is None or not access.read_offer(p, offer.publisher, True):
                raise NotFound("OFFER_NOT_FOUND", f"{offer_name} does not exist")
            proposal = rules.open_proposal(
                resource_names.new_id("p"), p.account, offer, terms, note, now, now + ttl
            )
            lic = self._grant_if_accepted(uow, proposal, offer, now)
            if lic is not None:
                proposal = _linked(proposal, lic)
            uow.proposals.add(proposal)
            if request_id:
                uow.requests.remember(p.account, request_id, proposal.name)
            uow.commit()
            return proposal, lic

    def counter(self, p: Principal, name: str, terms: Terms, note: str, etag: str) -> Proposal:
        with self._uow() as uow:
            proposal, party = self._for_party(uow, p, name, etag)
            _check_proposed(terms, proposal.publisher)
            offer = self._offer_of(uow, proposal)
            now = utc_now()
            countered = rules.counter(proposal, party, p.account, terms, note, offer, now)
            lic = self._grant_if_accepted(uow, countered, offer, now)
            if lic is not None:
                countered = _linked(countered, lic)
            uow.proposals.save(countered, len(proposal.steps))
            uow.commit()
            return countered

    def accept(
        self, p: Principal, name: str, request_id: str, etag: str
    ) -> tuple[Proposal, License]:
        with self._uow() as uow:
            proposal, party = self._for_party(uow, p, name, "")
            if request_id and proposal.accept_request_id == request_id:
                settled, lic = self._with_license(uow, proposal)
                assert lic is not None
                return settled, lic  # a retry of the accept that settled it
            if etag and etag != proposal.etag:
                raise Conflict("ETAG_MISMATCH", f"{name} changed since it was read; re-read it")
            now = utc_now()
            accepted = rules.accept(proposal, party, p.account, request_id, now)
            lic = self._grant(uow, accepted, self._offer_of(uow, proposal), now)
            accepted = _linked(accepted, lic)
            uow.proposals.save(accepted, len(proposal.steps))
            uow.commit()
            return accepted, lic

    def reject(self, p: Principal, name: str, note: str, etag: str) -> Proposal:
        with self._uow() as uow:
            proposal, party = self._for_party(uow, p, name, etag)
            rejected = rules.reject(proposal, party, p.account, note, utc_now())
            uow.proposals.save(rejected, len(proposal.steps))
            uow.commit()
            return rejected

    def get(self, p: Principal, name: str) -> Proposal:
        with self._uow(write=False) as uow:
            proposal = self._load(uow, _parse_id(name))
            if not access.is_party(p, proposal.vendor, proposal.publisher):
                raise NotFound("PROPOSAL_NOT_FOUND", f"{name} does not exist")
            return proposal

    def list_proposals(
        self,
        p: Principal,
        offer: str,
        state: ProposalState | None,
        page_size: int,
        page_token: str,
    ) -> pagination.Page[Proposal]:
        if offer:
            parse_offer_name(offer, "offer")
        filters = {"offer": offer, "state": state.value if state else "", "who": p.account}
        page = pagination.page_request(page_size, page_token, filters)
        party = None if p.is_trusted else p.account
        with self._uow(write=False) as uow:
            items = uow.proposals.search(party, offer, state, page.after, page.size)
        return pagination.page_of(items, page.size, lambda x: x.id, filters)

    # Helpers

    def _for_party(
        self, uow: LicensingUnitOfWork, p: Principal, name: str, etag: str
    ) -> tuple[Proposal, Party]:
        proposal = uow.proposals.get(_parse_id(name), lock=True)
        if proposal is None:
            raise NotFound("PROPOSAL_NOT_FOUND", f"{name} does not exist")
        party = proposal.party_of(p.account)
        require(party is not None, f"{name} is between other parties", reason="NOT_A_PARTY")
        assert party is not None
        if etag and etag != proposal.etag:
            raise Conflict("ETAG_MISMATCH", f"{name} changed since it was read; re-read it")
        return proposal, party

    def _offer_of(self, uow: LicensingUnitOfWork, proposal: Proposal) -> Offer:
        publisher_id, offer_id = parse_offer_name(proposal.offer)
        offer = uow.offers.get(publisher_id, offer_id)
        assert offer is not None, "offers are never deleted"
        return offer

    def _grant_if_accepted(
        self, uow: LicensingUnitOfWork, proposal: Proposal, offer: Offer, now: datetime
    ) -> License | None:
        if proposal.state is not ProposalState.ACCEPTED:
            return None
        return self._grant(uow, proposal, offer, now)

    def _grant(
        self, uow: LicensingUnitOfWork, proposal: Proposal, offer: Offer, now: datetime
    ) -> License:
        """The accepted terms become a license: a frozen copy, with today's commission."""
        start, end = proposal.terms.period(now)
        lic = License(
            id=resource_names.new_id("l"),
            vendor=proposal.vendor,
            publisher=proposal.publisher,
            offer=proposal.offer,
            proposal=proposal.name,
            terms=proposal.terms,
            commission_bps=self._offers.commission_for(uow, offer.publisher_id),
            state=LicenseState.ACTIVE,
            start_time=start,
            end_time=end,
            create_time=now,
            update_time=now,
            etag=new_etag(),
        )
        uow.licenses.add(lic)
        uow.license_changed(lic, GRANTED)
        return lic

    def _load(self, uow: LicensingUnitOfWork, proposal_id: str) -> Proposal:
        proposal = uow.proposals.get(proposal_id)
        if proposal is None:
            raise NotFound("PROPOSAL_NOT_FOUND", f"proposals/{proposal_id} does not exist")
        return proposal

    def _with_license(
        self, uow: LicensingUnitOfWork, proposal: Proposal
    ) -> tuple[Proposal, License | None]:
        lic = uow.licenses.get(proposal.license.split("/", 1)[1]) if proposal.license else None
        return proposal, lic


def _linked(proposal: Proposal, lic: License) -> Proposal:
    return replace(proposal, license=lic.name)


def _parse_id(name: str) -> str:
    (proposal_id,) = resource_names.parse(name, ("proposals",), "name")
    return proposal_id


def _check_ttl(ttl: timedelta | None) -> timedelta:
    if ttl is None:
        return DEFAULT_TTL
    if not timedelta(0) < ttl <= MAX_TTL:
        raise InvalidArgument(
            "INVALID_FIELDS",
            "bad ttl",
            [FieldViolation("ttl", "must be positive, at most 30 days")],
        )
    return ttl


def _check_proposed(terms: Terms, publisher: str) -> None:
    v = Violations()
    check_terms(terms, v, "terms", publisher)
    v.raise_if_any()
