"""From charges to ledger postings: the commission, the rights holders' shares, and one
balanced transaction per invoice (a vendor, a currency, a period).

For every charged line: commission = round_half_even(amount x rate); the publisher
share = amount - commission (no residual by construction). The share is split among
the work's rights holders by their basis points (largest remainder, ties by party), and
so is the commission, for display: each holder's line shows its gross (net + commission
part), the commission and the rate. Lines without a work (subscriptions, minimums) go
to the licensing publisher.

The invoice transaction debits the vendor's receivable once per invoice line, credits
each holder's payable once per statement line, and credits the marketplace revenue
with the sum of the commissions: it balances by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.settlement.domain.ledger import REVENUE, Entry, NewTransaction, payable, receivable
from services.settlement.domain.money import allocate, divide_half_even
from services.settlement.domain.rating import Charge
from services.settlement.domain.terms import LicenseTerms


@dataclass(frozen=True)
class Holder:
    party: str
    share_bps: int


@dataclass(frozen=True)
class InvoiceLine:
    """A charge as billed in a period: its own period's, or an adjustment of an earlier
    one (`for_period` names which)."""

    charge: Charge
    for_period: int
    adjustment: bool


@dataclass(frozen=True)
class Part:
    party: str
    gross: int
    commission: int
    net: int


def commission_of(amount: int, rate_bps: int) -> int:
    return divide_half_even(amount * rate_bps, 10_000)


def split(amount: int, rate_bps: int, holders: Sequence[Holder]) -> list[Part]:
    commission = commission_of(amount, rate_bps)
    weights = [h.share_bps for h in holders]
    keys = [h.party for h in holders]
    nets = allocate(amount - commission, weights, keys)
    commissions = allocate(commission, weights, keys)
    return [
        Part(h.party, n + c, c, n)
        for h, n, c in zip(holders, nets, commissions, strict=True)
        if n or c
    ]


def invoice_transaction(
    key: str,
    reference: str,
    vendor: str,
    posted_at: datetime,
    lines: Sequence[InvoiceLine],
    licenses: Mapping[str, LicenseTerms],
    holders: Mapping[str, Sequence[Holder]],
) -> NewTransaction | None:
    """The invoice's balanced posting (None when every line is zero)."""
    debits: list[Entry] = []
    credits: list[Entry] = []
    commission_total = 0
    currency = ""
    for line in lines:
        c = line.charge
        if not c.amount:
            continue
        lic = licenses[c.key.license]
        currency = c.currency
        where: dict[str, str | int | bool] = {
            "license": c.key.license,
            "work": c.key.work,
            "use": c.key.use,
            "unit": c.key.unit,
            "kind": c.key.kind,
            "period": line.for_period,
            "adjustment": line.adjustment,
        }
        debits.append(Entry(receivable(vendor), c.amount, {**where, "quantity": c.quantity}))
        owners = holders.get(c.key.work) or [Holder(lic.publisher, 10_000)]
        for part in split(c.amount, lic.commission_bps, owners):
            commission_total += part.commission
            detail: dict[str, str | int | bool] = {
                **where,
                "vendor": vendor,
                "gross": part.gross,
                "commission": part.commission,
                "commission_bps": lic.commission_bps,
            }
            credits.append(Entry(payable(part.party), -part.net, detail))
    if not debits:
        return None
    entries = [*debits, *credits]
    if commission_total:
        entries.append(Entry(REVENUE, -commission_total, {"invoice": reference}))
    return NewTransaction(key, currency, "invoice", reference, posted_at, tuple(entries))
