"""Prices typed by people (`0.005 USD`) to the API's integer micro-units."""

from __future__ import annotations

import typer
from licentia.licensing.v1 import resources_pb2 as lres

from services.runtime.money_text import parse_micros

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
        return parse_micros(amount)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def price_of(model: str, amount: str, currency: str, share_percent: float) -> lres.Price:
    if model not in MODELS:
        raise typer.BadParameter(f"model must be one of {', '.join(MODELS)}")
    return lres.Price(
        model=MODELS[model],
        currency=currency,
        amount_micros=micros(amount),
        share_bps=round(share_percent * 100),
    )
