"""A publisher's machine-readable terms: RSL 1.0 out (with TDMRep), RSL in (as drafts)."""

from __future__ import annotations

from dataclasses import dataclass

from services.licensing.adapters import rsl
from services.licensing.domain.offers import Offer, OfferState, new_etag
from services.licensing.service_layer import access
from services.licensing.service_layer.offers import OfferService, check_offer, parse_publisher
from services.licensing.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import resource_names
from services.runtime.errors import InvalidArgument
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now

MAX_IMPORTED_OFFERS = 100


@dataclass(frozen=True)
class RslDocument:
    rsl_xml: str
    tdmrep_json: str
    robots_txt_line: str


class RslService:
    def __init__(self, uow: UnitOfWorkFactory, offers: OfferService, server_url: str) -> None:
        self._uow = uow
        self._offers = offers
        self._server_url = server_url

    def document(
        self, p: Principal, publisher: str, site_url: str, server_url: str = ""
    ) -> RslDocument:
        """Published terms are public: any authenticated caller may read them."""
        publisher_id = parse_publisher(publisher, "publisher")
        site = site_url or "/"
        with self._uow(write=False) as uow:
            offers = uow.offers.published_by(publisher_id)
        license_url = site.rstrip("/") + "/license.xml"
        return RslDocument(
            rsl.to_rsl(offers, site, server_url or self._server_url),
            rsl.tdmrep(site, license_url),
            f"License: {license_url}",
        )

    def import_document(self, p: Principal, publisher: str, document: str) -> list[Offer]:
        publisher_id = parse_publisher(publisher, "publisher")
        access.write_offers(p, publisher)
        imported = rsl.from_rsl(document)
        if len(imported) > MAX_IMPORTED_OFFERS:
            raise InvalidArgument(
                "INVALID_RSL_DOCUMENT", f"at most {MAX_IMPORTED_OFFERS} licenses per document"
            )
        for item in imported:
            check_offer(item.display_name, item.terms, item.auto_accept_floor_micros, publisher)
        now = utc_now()
        offers = [
            Offer(
                publisher_id,
                resource_names.new_id("o"),
                item.display_name,
                item.terms,
                item.auto_accept_floor_micros,
                OfferState.DRAFT,
                now,
                now,
                new_etag(),
            )
            for item in imported
        ]
        with self._uow() as uow:
            for offer in offers:
                uow.offers.add(offer)
            uow.commit()
            return self._offers.with_commission(uow, offers)
