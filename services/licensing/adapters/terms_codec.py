"""Terms to and from JSON documents for storage (stable keys, integers, ISO times)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from services.licensing.domain.terms import Price, PriceModel, Scope, Terms, VolumeTier

_LISTS = (
    "permitted_uses",
    "prohibited_uses",
    "permitted_user_types",
    "prohibited_user_types",
    "permitted_territories",
    "prohibited_territories",
)


def terms_to_json(terms: Terms) -> dict[str, Any]:
    doc = asdict(terms)
    doc["price"]["model"] = terms.price.model.value if terms.price.model else None
    for name in ("start_time", "end_time"):
        value = getattr(terms, name)
        doc[name] = value.isoformat() if value else None
    doc["duration"] = terms.duration.total_seconds() if terms.duration is not None else None
    return doc


def terms_from_json(doc: dict[str, Any]) -> Terms:
    p = doc["price"]
    price = Price(
        model=PriceModel(p["model"]) if p["model"] else None,
        currency=p["currency"],
        amount_micros=p["amount_micros"],
        share_bps=p["share_bps"],
        tiers=tuple(VolumeTier(**t) for t in p["tiers"]),
        period_cap_micros=p["period_cap_micros"],
        minimum_commitment_micros=p["minimum_commitment_micros"],
        # Terms stored before intervals existed: a calendar month.
        interval=p.get("interval", "MONTH"),
        interval_seconds=p.get("interval_seconds", 0),
    )
    s = doc["scope"]
    return Terms(
        scope=Scope(
            tuple(s["sections"]), tuple(s["tags"]), tuple(s["works"]), tuple(s.get("urls", ()))
        ),
        **{name: tuple(doc[name]) for name in _LISTS},
        price=price,
        start_time=_time(doc["start_time"]),
        end_time=_time(doc["end_time"]),
        duration=timedelta(seconds=doc["duration"]) if doc["duration"] is not None else None,
        attribution_required=doc["attribution_required"],
        reporting_required=doc["reporting_required"],
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
