"""Money as people read it: decimal strings with their currency, everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.settlement.v1 import resources_pb2 as sres

from services.cli.output import as_dict
from services.runtime.money_text import micros_text, money, parse_micros, price


def test_amounts_and_prices_read_as_decimals_with_their_currency() -> None:
    assert money(700, "USD") == "7.00 USD"
    assert money(-5, "USD") == "-0.05 USD"
    assert money(1234, "JPY") == "1234 JPY"
    assert money(1234, "KWD") == "1.234 KWD"
    assert price(4_000, "USD") == "0.004 USD"
    assert price(2_500_000, "EUR") == "2.5 EUR"
    assert micros_text(1) == "0.000001"


@given(st.integers(0, 10**15))
def test_parsing_a_price_undoes_its_text(micros: int) -> None:
    assert parse_micros(micros_text(micros)) == micros


@pytest.mark.parametrize("text", ["a lot", "0.0000001", "-1", "NaN", "Infinity", ""])
def test_prices_people_cannot_mean_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_micros(text)


def test_json_output_shows_money_as_decimal_strings() -> None:
    offer_price = lres.Price(model=lres.Price.MODEL_PER_USE, currency="USD", amount_micros=4_000)
    offer_price.tiers.add(from_quantity=100, amount_micros=2_000)
    assert as_dict(offer_price) == {
        "model": "MODEL_PER_USE",
        "currency": "USD",
        "amount": "0.004",
        "tiers": [{"from_quantity": "100", "amount": "0.002"}],
    }
    invoice = sres.Invoice(name="invoices/x", currency="JPY", total=1_500)
    invoice.lines.add(amount=500, quantity=3)
    shown = as_dict(invoice)
    assert shown["total"] == "1500" and shown["lines"][0]["amount"] == "500"
    statement = sres.Statement(currency="USD", gross=800, commission=120, net=680)
    assert {k: as_dict(statement)[k] for k in ("gross", "commission", "net")} == {
        "gross": "8.00",
        "commission": "1.20",
        "net": "6.80",
    }
