"""Offers: create, read, edit, publish, withdraw; and the commission shown on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from services.licensing.domain import offers as rules
from services.licensing.domain.offers import Offer, OfferFilter, OfferState
from services.licensing.domain.terms import MAX_BPS, Terms, check_terms
from services.licensing.service_layer import access
from services.licensing.service_layer.unit_of_work import LicensingUnitOfWork, UnitOfWorkFactory
from services.runtime import pagination, resource_names
from services.runtime.errors import (
    AlreadyExists,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from services.runtime.principal import Principal, Role
from services.runtime.sqltypes import utc_now

EDITABLE = frozenset({"display_name", "terms", "auto_accept_floor_micros"})


def parse_offer_name(name: str, field: str = "name") -> tuple[str, str]:
    publisher_id, offer_id = resource_names.parse(name, ("publishers", "offers"), field)
    return publisher_id, offer_id


def parse_publisher(name: str, field: str, allow_wildcard: bool = False) -> str:
    (publisher_id,) = resource_names.parse(name, ("publishers",), field, allow_wildcard)
    return publisher_id


def check_offer(display_name: str, terms: Terms, floor: int, publisher: str) -> None:
    v = Violations()
    if not display_name.strip() or len(display_name) > 200:
        v.add("offer.display_name", "required, at most 200 characters")
    check_terms(terms, v, "offer.terms", publisher)
    if floor < 0:
        v.add("offer.auto_accept_floor_micros", "must not be negative")
    v.raise_if_any()


class OfferService:
    def __init__(self, uow: UnitOfWorkFactory, default_commission_bps: int) -> None:
        self._uow = uow
        self._default_commission = default_commission_bps

    def create(
        self,
        p: Principal,
        parent: str,
        display_name: str,
        terms: Terms,
        floor: int,
        offer_id: str,
        request_id: str,
    ) -> Offer:
        publisher_id = parse_publisher(parent, "parent")
        access.write_offers(p, parent)
        if offer_id and not resource_names.is_valid_id(offer_id):
            raise InvalidArgument(
                "INVALID_FIELDS",
                "bad offer_id",
                [FieldViolation("offer_id", resource_names.ID_RULE)],
            )
        check_offer(display_name, terms, floor, parent)
        now = utc_now()
        offer = Offer(
            publisher_id,
            offer_id or resource_names.new_id("o"),
            display_name,
            terms,
            floor,
            OfferState.DRAFT,
            now,
            now,
            rules.new_etag(),
        )
        with self._uow() as uow:
            if request_id and (known := uow.requests.resource_for(p.account, request_id)):
                return self._view(uow, self._load(uow, known))
            if uow.offers.get(publisher_id, offer.id) is not None:
                raise AlreadyExists("OFFER_EXISTS", f"{offer.name} already exists")
            uow.offers.add(offer)
            if request_id:
                uow.requests.remember(p.account, request_id, offer.name)
            uow.commit()
            return self._view(uow, offer)

    def get(self, p: Principal, name: str) -> Offer:
        publisher_id, offer_id = parse_offer_name(name)
        with self._uow(write=False, autocommit=True) as uow:  # one statement
            shown = uow.offers.get_shown(publisher_id, offer_id)
        if shown is None:
            raise NotFound("OFFER_NOT_FOUND", f"{name} does not exist")
        offer, override = shown
        if not access.read_offer(p, offer.publisher, offer.state is OfferState.PUBLISHED):
            raise NotFound("OFFER_NOT_FOUND", f"{name} does not exist")
        return replace(offer, commission_bps=self._rate(override))

    def list_offers(
        self, p: Principal, parent: str, state: OfferState | None, page_size: int, page_token: str
    ) -> pagination.Page[Offer]:
        publisher_id = parse_publisher(parent, "parent", allow_wildcard=True)
        own = publisher_id != "-" and p.owns(f"publishers/{publisher_id}")
        if p.role is Role.PUBLISHER and not own:
            access.write_offers(p, parent)  # raises: publishers list only their own
        if p.role is Role.VENDOR:
            if state not in (None, OfferState.PUBLISHED):
                return pagination.Page([], "")
            state = OfferState.PUBLISHED
        where = OfferFilter(None if publisher_id == "-" else publisher_id, state)
        filters = {"parent": parent, "state": state.value if state else ""}
        page = pagination.page_request(page_size, page_token, filters)
        with self._uow(write=False, autocommit=True) as uow:
            items = self.with_commission(uow, uow.offers.search(where, page.after, page.size))
        return pagination.page_of(items, page.size, lambda o: [o.publisher_id, o.id], filters)

    def update(self, p: Principal, name: str, changes: dict[str, object], etag: str) -> Offer:
        publisher_id, offer_id = parse_offer_name(name, "offer.name")
        access.write_offers(p, f"publishers/{publisher_id}")
        with self._uow() as uow:
            offer = self._locked(uow, publisher_id, offer_id, etag)
            edited = rules.edit(offer, changes, utc_now())
            check_offer(
                edited.display_name, edited.terms, edited.auto_accept_floor_micros, offer.publisher
            )
            uow.offers.save(edited)
            uow.commit()
            return self._view(uow, edited)

    def publish(self, p: Principal, name: str, etag: str) -> Offer:
        return self._transition(p, name, etag, rules.publish)

    def withdraw(self, p: Principal, name: str, etag: str) -> Offer:
        return self._transition(p, name, etag, rules.withdraw)

    def set_commission(self, p: Principal, publisher: str, bps: int, clear: bool) -> int:
        access.operator_only(p, "set commission rates")
        publisher_id = parse_publisher(publisher, "publisher")
        if not 0 <= bps <= MAX_BPS:
            raise InvalidArgument(
                "INVALID_FIELDS", "bad rate", [FieldViolation("commission_bps", "must be 0..10000")]
            )
        with self._uow() as uow:
            uow.offers.set_commission(publisher_id, None if clear else bps)
            uow.commit()
            return self.commission_for(uow, publisher_id)

    def commission_for(self, uow: LicensingUnitOfWork, publisher_id: str) -> int:
        return self._rate(uow.offers.commission_override(publisher_id))

    def _rate(self, override: int | None) -> int:
        """The commission that applies: the publisher's override, or the default."""
        return self._default_commission if override is None else override

    def _transition(
        self, p: Principal, name: str, etag: str, move: Callable[[Offer, datetime], Offer]
    ) -> Offer:
        publisher_id, offer_id = parse_offer_name(name)
        access.write_offers(p, f"publishers/{publisher_id}")
        with self._uow() as uow:
            offer = self._locked(uow, publisher_id, offer_id, etag)
            moved = move(offer, utc_now())
            uow.offers.save(moved)
            uow.commit()
            return self._view(uow, moved)

    def _locked(
        self, uow: LicensingUnitOfWork, publisher_id: str, offer_id: str, etag: str
    ) -> Offer:
        offer = uow.offers.get(publisher_id, offer_id, lock=True)
        if offer is None:
            raise NotFound(
                "OFFER_NOT_FOUND", f"publishers/{publisher_id}/offers/{offer_id} does not exist"
            )
        if etag and etag != offer.etag:
            raise Conflict("ETAG_MISMATCH", f"{offer.name} changed since it was read; re-read it")
        return offer

    def _load(self, uow: LicensingUnitOfWork, name: str) -> Offer:
        publisher_id, offer_id = parse_offer_name(name)
        offer = uow.offers.get(publisher_id, offer_id)
        if offer is None:
            raise NotFound("OFFER_NOT_FOUND", f"{name} does not exist")
        return offer

    def with_commission(self, uow: LicensingUnitOfWork, offers: list[Offer]) -> list[Offer]:
        """Offers as shown: with the commission that applies (one query for a page of
        offers from any number of publishers)."""
        if not offers:
            return []
        overrides = uow.offers.commission_overrides({o.publisher_id for o in offers})
        return [
            replace(o, commission_bps=overrides.get(o.publisher_id, self._default_commission))
            for o in offers
        ]

    def _view(self, uow: LicensingUnitOfWork, offer: Offer) -> Offer:
        (shown,) = self.with_commission(uow, [offer])
        return shown
