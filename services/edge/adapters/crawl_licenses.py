"""Per-crawl offers and licenses for the toll: the offers as the last poll of licensing
saw them, and each vendor's per-crawl license under an offer, taken through licensing's
AcquireLicense the first time that vendor pays for a crawl there (then remembered)."""

from __future__ import annotations

import threading

from services.edge.adapters.upstream import LicensingClient
from services.edge.domain.pay_per_crawl import CrawlOffer
from services.edge.service_layer.ports import UpstreamRefusal
from services.edge.service_layer.toll import LicenseRefused
from services.runtime.errors import Unavailable
from services.runtime.money_text import micros_text


class OfferBoard:
    def __init__(self) -> None:
        self._by_publisher: dict[str, list[CrawlOffer]] = {}

    def replace(self, offers: dict[str, list[CrawlOffer]]) -> None:
        self._by_publisher = offers

    def of(self, publisher: str) -> list[CrawlOffer]:
        return self._by_publisher.get(publisher, [])


class PerCrawlLicenses:
    def __init__(self, licensing: LicensingClient) -> None:
        self._licensing = licensing
        self._known: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def known(self, vendor: str, offer: CrawlOffer) -> str | None:
        return self._known.get((vendor, offer.offer))

    def license_for(self, vendor: str, offer: CrawlOffer, work: str) -> str:
        known = self._known.get((vendor, offer.offer))
        if known is not None:
            return known
        terms = (
            f'<license xmlns="https://rslstandard.org/rsl"><permits type="usage">{offer.use}'
            f'</permits><payment type="crawl"><amount currency="{offer.currency}">'
            f"{micros_text(offer.amount_micros)}</amount></payment></license>"
        )
        try:
            issued = self._licensing.acquire(vendor, work, (offer.use,), terms, "", "", 60)
        except UpstreamRefusal as refused:
            raise LicenseRefused(refused.message) from refused
        except Unavailable as down:
            raise LicenseRefused("licensing is unavailable; retry") from down
        with self._lock:
            self._known[(vendor, offer.offer)] = issued.license
        return issued.license
