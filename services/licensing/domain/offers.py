"""Offers: a publisher's terms, from draft to published to withdrawn."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from services.licensing.domain.terms import Terms
from services.runtime.errors import FailedPrecondition


class OfferState(Enum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    WITHDRAWN = "WITHDRAWN"


@dataclass(frozen=True)
class Offer:
    publisher_id: str
    id: str
    display_name: str
    terms: Terms
    auto_accept_floor_micros: int
    state: OfferState
    create_time: datetime
    update_time: datetime
    etag: str
    publish_time: datetime | None = None
    # Shown on the offer, not stored with it: the publisher's rate when read.
    commission_bps: int = 0

    @property
    def name(self) -> str:
        return f"publishers/{self.publisher_id}/offers/{self.id}"

    @property
    def publisher(self) -> str:
        return f"publishers/{self.publisher_id}"


@dataclass(frozen=True)
class OfferFilter:
    """Which offers a listing asks for: one publisher's (None: every publisher's)."""

    publisher_id: str | None
    state: OfferState | None


def new_etag() -> str:
    return secrets.token_hex(8)


def edit(offer: Offer, changes: dict[str, object], now: datetime) -> Offer:
    if offer.state is OfferState.WITHDRAWN:
        raise FailedPrecondition("OFFER_WITHDRAWN", f"{offer.name} is withdrawn; create a new one")
    return replace(offer, **changes, update_time=now, etag=new_etag())  # type: ignore[arg-type]


def publish(offer: Offer, now: datetime) -> Offer:
    if offer.state is not OfferState.DRAFT:
        raise FailedPrecondition(
            "OFFER_NOT_DRAFT", f"{offer.name} is {offer.state.value}; only drafts can be published"
        )
    return replace(
        offer, state=OfferState.PUBLISHED, publish_time=now, update_time=now, etag=new_etag()
    )


def withdraw(offer: Offer, now: datetime) -> Offer:
    if offer.state is OfferState.WITHDRAWN:
        raise FailedPrecondition("OFFER_WITHDRAWN", f"{offer.name} is already withdrawn")
    return replace(offer, state=OfferState.WITHDRAWN, update_time=now, etag=new_etag())
