"""RSL 1.0 documents: schema-valid output, exact round trip, safe and clear import errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from services.licensing.adapters import rsl
from services.licensing.domain.offers import Offer, OfferState
from services.licensing.domain.terms import Price, PriceModel, Scope, Terms, VolumeTier
from services.runtime.errors import InvalidArgument

SCHEMA = xmlschema.XMLSchema(Path(rsl.__file__).with_name("rsl-1.0.xsd").read_text(), base_url=None)
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def offer(terms: Terms, floor: int = 0, n: int = 1) -> Offer:
    return Offer("pa", f"o{n}", f"Offer {n}", terms, floor, OfferState.PUBLISHED, NOW, NOW, "e")


RICH = Terms(
    scope=Scope(("politics",), ("daily",), ("publishers/pa/works/w1",)),
    permitted_uses=("ai-all", "search"),
    prohibited_uses=("ai-train",),
    permitted_user_types=("commercial", "education"),
    prohibited_user_types=("government",),
    permitted_territories=("US", "EU"),
    prohibited_territories=("DE",),
    price=Price(
        PriceModel.PER_1K_TOKENS,
        "EUR",
        1_250,
        tiers=(VolumeTier(1_000_000, 1_000), VolumeTier(10_000_000, 800)),
        period_cap_micros=5_000_000_000,
        minimum_commitment_micros=100_000_000,
    ),
    start_time=NOW,
    duration=timedelta(days=365),
    attribution_required=True,
    reporting_required=True,
)

MODELS = [
    Price(PriceModel.PER_USE, "USD", 2_000),
    Price(PriceModel.PER_1K_TOKENS, "USD", 15),
    Price(PriceModel.PER_CRAWL, "USD", 1_000),
    Price(PriceModel.SUBSCRIPTION, "USD", 500_000_000),
    Price(PriceModel.REVENUE_SHARE, "USD", share_bps=2_500),
    Price(PriceModel.FREE),
]


def test_document_is_schema_valid_and_round_trips_every_term() -> None:
    offers = [offer(RICH, floor=1_500, n=1)] + [
        offer(Terms(permitted_uses=("ai-input",), price=p), n=i + 2) for i, p in enumerate(MODELS)
    ]
    document = rsl.to_rsl(offers, "https://news.example", "https://licensing.example")
    SCHEMA.validate(document)
    imported = rsl.from_rsl(document)
    assert [(i.terms, i.auto_accept_floor_micros) for i in imported] == [
        (o.terms, o.auto_accept_floor_micros) for o in offers
    ]
    assert [i.display_name for i in imported] == [o.display_name for o in offers]


def test_core_terms_are_plain_rsl() -> None:
    document = rsl.to_rsl([offer(RICH)], "https://news.example", "")
    assert '<permits type="usage">ai-all,search</permits>' in document
    assert '<prohibits type="usage">ai-train</prohibits>' in document
    assert '<permits type="geo">US,EU</permits>' in document
    assert '<amount currency="EUR">0.00125</amount>' in document
    assert 'url="https://news.example/*"' in document


amounts = st.integers(min_value=1, max_value=10**15)


@settings(max_examples=60, deadline=None)
@given(amount=amounts, model=st.sampled_from([PriceModel.PER_USE, PriceModel.PER_CRAWL]))
def test_any_amount_survives_the_decimal_round_trip(amount: int, model: PriceModel) -> None:
    terms = Terms(permitted_uses=("search",), price=Price(model, "USD", amount))
    document = rsl.to_rsl([offer(terms)], "/", "")
    (imported,) = rsl.from_rsl(document)
    assert imported.terms.price.amount_micros == amount


def test_foreign_rsl_without_extension_imports_core_terms() -> None:
    document = """<rsl xmlns="https://rslstandard.org/rsl">
      <content url="https://site.example/*">
        <license>
          <permits type="usage">ai-input</permits>
          <prohibits type="geo">CN</prohibits>
          <payment type="crawl"><amount currency="USD">0.01</amount></payment>
        </license>
      </content>
    </rsl>"""
    (imported,) = rsl.from_rsl(document)
    assert imported.terms.permitted_uses == ("ai-input",)
    assert imported.terms.prohibited_territories == ("CN",)
    assert imported.terms.price == Price(PriceModel.PER_CRAWL, "USD", 10_000)
    assert imported.terms.scope.is_everything


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("not xml", "not well-formed"),
        ("<rsl/>", "root element"),
        ('<rsl xmlns="https://rslstandard.org/rsl"/>', "no <content><license>"),
        (
            '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
            '<payment type="barter"/></license></content></rsl>',
            "barter",
        ),
        (
            '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
            '<payment type="crawl"><amount currency="USD">0.0000001</amount></payment>'
            "</license></content></rsl>",
            "6 decimal places",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<rsl xmlns="https://rslstandard.org/rsl">&b;</rsl>',
            "unsafe",
        ),
    ],
)
def test_bad_documents_get_a_clear_reason(document: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        rsl.from_rsl(document)
    assert raised.value.reason == "INVALID_RSL_DOCUMENT"
    assert fragment in raised.value.message
