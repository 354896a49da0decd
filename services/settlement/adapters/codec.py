"""Domain values as JSON for the snapshot and state tables."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from services.settlement.domain.billing import VendorPeriod
from services.settlement.domain.postings import Holder
from services.settlement.domain.rating import Charge, LineKey
from services.settlement.domain.terms import LicenseTerms, Model, Price, Tier


def terms_out(lic: LicenseTerms) -> dict[str, Any]:
    p = lic.price
    return {
        "name": lic.name,
        "vendor": lic.vendor,
        "publisher": lic.publisher,
        "commission_bps": lic.commission_bps,
        "start": lic.start.isoformat(),
        "end": lic.end.isoformat() if lic.end else None,
        "price": {
            "model": p.model.value,
            "currency": p.currency,
            "amount_micros": p.amount_micros,
            "share_bps": p.share_bps,
            "tiers": [[t.from_quantity, t.amount_micros] for t in p.tiers],
            "cap_micros": p.cap_micros,
            "minimum_micros": p.minimum_micros,
            "interval_months": p.interval_months,
            "interval_seconds": p.interval_seconds,
        },
    }


def terms_in(data: dict[str, Any]) -> LicenseTerms:
    p = data["price"]
    return LicenseTerms(
        name=data["name"],
        vendor=data["vendor"],
        publisher=data["publisher"],
        commission_bps=data["commission_bps"],
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]) if data["end"] else None,
        price=Price(
            model=Model(p["model"]),
            currency=p["currency"],
            amount_micros=p["amount_micros"],
            share_bps=p["share_bps"],
            tiers=tuple(Tier(f, a) for f, a in p["tiers"]),
            cap_micros=p["cap_micros"],
            minimum_micros=p["minimum_micros"],
            # Snapshots taken before intervals existed billed per period: a month is the
            # interval their prices were quoted for.
            interval_months=p.get("interval_months", 1),
            interval_seconds=p.get("interval_seconds", 0),
        ),
    )


def holders_out(holders: tuple[Holder, ...]) -> list[list[Any]]:
    return [[h.party, h.share_bps] for h in holders]


def holders_in(data: list[list[Any]]) -> tuple[Holder, ...]:
    return tuple(Holder(party, bps) for party, bps in data)


def state_out(state: VendorPeriod) -> tuple[dict[str, int], list[list[Any]]]:
    usage = {"|".join(key): q for key, q in sorted(state.usage.items())}
    charges = [
        [k.license, k.work, k.use, k.unit, k.kind, c.quantity, c.amount, c.currency]
        + ([] if c.exact is None else [f"{c.exact.numerator}/{c.exact.denominator}"])
        for k, c in sorted(state.charges.items())
    ]
    return usage, charges


def state_in(usage: dict[str, int], charges: list[list[Any]]) -> VendorPeriod:
    state = VendorPeriod()
    for key, quantity in usage.items():
        lic, work, use, unit = key.split("|")
        state.usage[(lic, work, use, unit)] = quantity
    for lic, work, use, unit, kind, quantity, amount, currency, *exact in charges:
        line = LineKey(lic, work, use, unit, kind)
        # States stored before exact amounts were kept have none: the amount is exact.
        value = Fraction(exact[0]) if exact else None
        state.charges[line] = Charge(line, quantity, amount, currency, value)
    return state
