"""Which offer a crawler's request takes, and RSL URL patterns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.licensing.domain.acquisition import Choice, Refusal, choose, covering
from services.licensing.domain.offers import Offer, OfferState
from services.licensing.domain.permissions import WorkRef
from services.licensing.domain.terms import Price, PriceModel, Scope, Terms
from services.runtime.urls import url_matches

NOW = datetime(2026, 11, 30, tzinfo=UTC)
WORK = WorkRef(
    "publishers/p/works/w", "publishers/p", "news", frozenset(), "https://p.example/news/1"
)


def offer(name: str, price: Price, floor: int = 0, **terms: object) -> Offer:
    fields: dict[str, object] = {"permitted_uses": ("ai-input",), "price": price, **terms}
    return Offer("p", name, name, Terms(**fields), floor, OfferState.PUBLISHED, NOW, NOW, "e")  # type: ignore[arg-type]


PER_USE = Price(PriceModel.PER_USE, "USD", 2_000)


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("https://p.example/news/*", "https://p.example/news/1", True),
        ("https://p.example/news/", "https://p.example/news/1", True),
        ("https://p.example/news/1$", "https://p.example/news/12", False),
        ("https://p.example/news/1$", "https://p.example/news/1", True),
        ("https://p.example/*/1", "https://p.example/sport/1", True),
        ("https://p.example/sport/*", "https://p.example/news/1", False),
        ("https://p.example/a.b", "https://p.example/aXb", False),
    ],
)
def test_rsl_url_patterns(pattern: str, url: str, matches: bool) -> None:
    assert url_matches(pattern, url) is matches


def test_only_offers_covering_the_work_and_every_use_qualify() -> None:
    news = offer("o1", PER_USE, scope=Scope(urls=("https://p.example/news/*",)))
    sport = offer("o2", PER_USE, scope=Scope(urls=("https://p.example/sport/*",)))
    training = offer("o3", PER_USE, permitted_uses=("ai-train",))
    assert [o.name for o in covering([news, sport, training], WORK, ("ai-input",), NOW)] == [
        "publishers/p/offers/o1"
    ]
    assert covering([news], WORK, ("ai-input", "ai-train"), NOW) == []


def test_a_price_is_taken_only_when_the_request_states_one_that_reaches_it() -> None:
    paid = offer("o1", PER_USE, floor=1_000)
    free = offer("o2", Price(PriceModel.FREE))
    assert choose([paid, free], None) == Choice(free, None)
    refused = choose([paid], None)
    assert isinstance(refused, Refusal) and refused.reason == "PRICE_NOT_ACCEPTED"
    assert "0.002 USD" in refused.message
    assert choose([paid], Price(PriceModel.PER_USE, "USD", 2_500)) == Choice(paid, None)
    at_floor = choose([paid], Price(PriceModel.PER_USE, "USD", 1_200))
    assert isinstance(at_floor, Choice) and at_floor.terms is not None
    assert at_floor.terms.price.amount_micros == 1_200
    below = choose([paid], Price(PriceModel.PER_USE, "USD", 900))
    assert isinstance(below, Refusal)
    other_currency = choose([paid], Price(PriceModel.PER_USE, "EUR", 9_000))
    assert isinstance(other_currency, Refusal)
    assert isinstance(choose([], None), Refusal) and choose([], None).reason == "NOT_OFFERED"  # type: ignore[union-attr]
