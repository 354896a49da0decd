"""Acquiring a license at the license server: which published offer a crawler's request
can take, and on what terms. Plain rules; the use case is in service_layer/acquisition.

A request names the uses it wants and, with OLP's `rsl` grant, the price it accepts (an
RSL `<payment>`). An offer qualifies when it covers the work and permits every use.
Among those, a free offer is taken as offered; a priced one when the request's payment
has the same model and currency and either reaches the offer's price (taken as
offered) or reaches the offer's auto-accept floor (a proposal at the request's price,
which the floor accepts). A request without a payment takes free offers only: nobody is
charged a price they did not state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.licensing.domain.offers import Offer
from services.licensing.domain.permissions import Grant, WorkRef
from services.licensing.domain.terms import Price, PriceModel, Terms
from services.runtime.money_text import price as price_text


@dataclass(frozen=True)
class Choice:
    offer: Offer
    # The terms to propose; None: the offer's own (taken as offered).
    terms: Terms | None


@dataclass(frozen=True)
class Refusal:
    reason: str  # NOT_OFFERED or PRICE_NOT_ACCEPTED
    message: str


def covering(
    offers: list[Offer], work: WorkRef, uses: tuple[str, ...], at: datetime
) -> list[Offer]:
    """The offers whose terms cover the work and permit every use."""
    found = []
    for offer in offers:
        grant = Grant.of_terms(offer.name, offer.terms)
        if all(grant.denial(work, use, "", "commercial", at) is None for use in uses):
            found.append(offer)
    return found


def choose(offers: list[Offer], wanted: Price | None) -> Choice | Refusal:
    """The cheapest offer the request accepts, or why none."""
    if not offers:
        return Refusal("NOT_OFFERED", "no published offer covers this resource for these uses")
    acceptable: list[tuple[int, Choice]] = []
    for offer in offers:
        price = offer.terms.price
        if price.model is PriceModel.FREE:
            acceptable.append((0, Choice(offer, None)))
        elif wanted is not None and (wanted.model, wanted.currency) == (
            price.model,
            price.currency,
        ):
            if wanted.amount_micros >= price.amount_micros:
                acceptable.append((price.amount_micros, Choice(offer, None)))
            elif (
                offer.auto_accept_floor_micros
                and wanted.amount_micros >= offer.auto_accept_floor_micros
            ):
                proposed = replace(
                    offer.terms, price=replace(price, amount_micros=wanted.amount_micros)
                )
                acceptable.append((wanted.amount_micros, Choice(offer, proposed)))
    if acceptable:
        return min(acceptable, key=lambda pair: (pair[0], pair[1].offer.name))[1]
    asks = "; ".join(
        f"{o.name} asks {price_text(o.terms.price.amount_micros, o.terms.price.currency)} "
        f"{o.terms.price.model.value.lower() if o.terms.price.model else ''}"
        for o in offers[:3]
    )
    how = (
        "state the price you accept with grant_type=rsl and an RSL <license> whose <payment> "
        "reaches it"
        if wanted is None
        else "raise the <payment> amount to the offer's price"
    )
    return Refusal("PRICE_NOT_ACCEPTED", f"{asks}: {how}, or negotiate a proposal through the API")
