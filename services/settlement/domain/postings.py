"""From charges to ledger postings: the commission, the rights holders' shares, and one
balanced transaction per invoice (a vendor, a currency, a period).

Per license in an invoice (its own period's lines, or its adjustments of one earlier
period): commission = round_half_even(billed total x rate), rounded once. The billed
total is then apportioned among the rights holders by their exact shares of the
license's exact amounts (each line's exact amount times the work's holders' basis
points), and so is the commission; each holder's gross and commission are in turn
apportioned over that holder's lines (money.py's largest remainder). So every holder
is within one minor unit of its exact share of each license, whatever the number of
lines, and net = gross - commission leaves no residual. Lines without a work
(subscriptions, minimums) go to the licensing publisher.

The invoice transaction debits the vendor's receivable once per invoice line, credits
each holder's payable once per statement line, and credits the marketplace revenue
with the sum of the commissions: it balances by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from services.settlement.domain.ledger import REVENUE, Entry, NewTransaction, payable, receivable
from services.settlement.domain.money import apportion, divide_half_even
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


def split_license(
    lines: Sequence[InvoiceLine], rate_bps: int, owners: Sequence[Sequence[Holder]]
) -> list[list[Part]]:
    """The parts of each line (same order as `lines`; `owners[i]`: line i's holders) for
    one license's lines in one invoice."""
    billed = sum(line.charge.amount for line in lines)
    commission = commission_of(billed, rate_bps)
    rate = Fraction(rate_bps, 10_000)
    # party -> [(line index, exact gross)], in first-seen order
    targets: dict[str, list[tuple[int, Fraction]]] = {}
    for i, (line, holders) in enumerate(zip(lines, owners, strict=True)):
        whole = sum(h.share_bps for h in holders)
        exact = line.charge.exact_amount
        for h in holders:
            targets.setdefault(h.party, []).append((i, exact * h.share_bps / whole))
    parties = sorted(targets)
    party_exact = [sum((x for _, x in targets[p]), Fraction(0)) for p in parties]
    gross = apportion(billed, party_exact, parties)
    commissions = apportion(commission, [x * rate for x in party_exact], parties)
    out: list[list[Part]] = [[] for _ in lines]
    for party, party_gross, party_commission in zip(parties, gross, commissions, strict=True):
        mine = targets[party]
        keys = [f"{i:012d}" for i, _ in mine]
        line_gross = apportion(party_gross, [x for _, x in mine], keys)
        line_commission = apportion(party_commission, [x * rate for _, x in mine], keys)
        for (i, _), g, c in zip(mine, line_gross, line_commission, strict=True):
            if g or c:
                out[i].append(Part(party, g, c, g - c))
    return out


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
    groups: dict[tuple[str, int, bool], list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault((line.charge.key.license, line.for_period, line.adjustment), []).append(
            line
        )
    for (license_name, _, _), group in groups.items():
        lic = licenses[license_name]
        owners = [
            holders.get(line.charge.key.work) or [Holder(lic.publisher, 10_000)] for line in group
        ]
        for line, parts in zip(
            group, split_license(group, lic.commission_bps, owners), strict=True
        ):
            c = line.charge
            currency = c.currency
            where = _where(line)
            if c.amount:
                debits.append(
                    Entry(receivable(vendor), c.amount, {**where, "quantity": c.quantity})
                )
            for part in parts:
                commission_total += part.commission
                detail: dict[str, str | int | bool] = {
                    **where,
                    "vendor": vendor,
                    "gross": part.gross,
                    "commission": part.commission,
                    "commission_bps": lic.commission_bps,
                }
                credits.append(Entry(payable(part.party), -part.net, detail))
    if not debits and not credits:
        return None
    entries = [*debits, *credits]
    if commission_total:
        entries.append(Entry(REVENUE, -commission_total, {"invoice": reference}))
    return NewTransaction(key, currency, "invoice", reference, posted_at, tuple(entries))


def _where(line: InvoiceLine) -> dict[str, str | int | bool]:
    c = line.charge
    return {
        "license": c.key.license,
        "work": c.key.work,
        "use": c.key.use,
        "unit": c.key.unit,
        "kind": c.key.kind,
        "period": line.for_period,
        "adjustment": line.adjustment,
    }
