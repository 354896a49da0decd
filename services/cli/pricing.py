"""Prices typed by people (`0.005 USD`) to the API's integer micro-units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer
from licentia.licensing.v1 import resources_pb2 as lres

MODELS = {
    "per-use": lres.Price.MODEL_PER_USE,
    "per-1k-tokens": lres.Price.MODEL_PER_1K_TOKENS,
    "per-crawl": lres.Price.MODEL_PER_CRAWL,
    "subscription": lres.Price.MODEL_SUBSCRIPTION,
    "revenue-share": lres.Price.MODEL_REVENUE_SHARE,
    "free": lres.Price.MODEL_FREE,
}


def micros(amount: str) -> int:
    """`0.005` -> 5000, exactly (no floats)."""
    try:
        value = Decimal(amount) * 1_000_000
    except InvalidOperation:
        raise typer.BadParameter(f"{amount!r} is not an amount such as 0.005") from None
    if value != value.to_integral_value() or value < 0:
        raise typer.BadParameter(f"{amount!r}: at most six decimals, not negative")
    return int(value)


def price_of(model: str, amount: str, currency: str, share_percent: float) -> lres.Price:
    if model not in MODELS:
        raise typer.BadParameter(f"model must be one of {', '.join(MODELS)}")
    return lres.Price(
        model=MODELS[model],
        currency=currency,
        amount_micros=micros(amount),
        share_bps=round(share_percent * 100),
    )
