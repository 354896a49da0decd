"""Issuing a closed period's documents: one balanced ledger transaction per invoice
(vendor and currency), the invoices, and one statement per rights holder and currency
made of its payable entries, with a digest of those lines and the ledger hash they were
posted under."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.settlement.domain.billing import Billing
from services.settlement.domain.documents import statement_digest
from services.settlement.domain.ledger import Entry, NewTransaction, Posted, receivable
from services.settlement.domain.periods import PeriodRecord
from services.settlement.domain.postings import Holder, invoice_transaction
from services.settlement.domain.terms import LicenseTerms
from services.settlement.service_layer.unit_of_work import SettlementUnitOfWork


def document_id(period: int, owner: str, currency: str) -> str:
    """`7-vendors-acme-usd`: readable, and a valid resource id."""
    return f"p{period}-{owner.replace('/', '-')}-{currency.lower()}"


def issue(
    uow: SettlementUnitOfWork,
    period: PeriodRecord,
    billing: Billing,
    licenses: Mapping[str, LicenseTerms],
    holders: Mapping[str, Sequence[Holder]],
) -> list[Posted]:
    txs: list[NewTransaction] = []
    vendors: dict[str, str] = {}
    for vendor, lines in sorted(billing.lines.items()):
        for currency in sorted({line.charge.currency for line in lines}):
            invoice = document_id(period.number, vendor, currency)
            tx = invoice_transaction(
                key=f"invoice/{invoice}",
                reference=f"invoices/{invoice}",
                vendor=vendor,
                posted_at=period.close_time,
                lines=[line for line in lines if line.charge.currency == currency],
                licenses=licenses,
                holders=holders,
            )
            if tx is not None:
                txs.append(tx)
                vendors[tx.key] = vendor
    if not txs:
        return []
    posted = sorted(uow.ledger.post(txs), key=lambda p: (p.transaction.currency, p.sequence))
    uow.records.add_invoices([_invoice(period, vendors[p.transaction.key], p) for p in posted])
    uow.records.add_statements(_statements(period, posted))
    for currency in sorted({p.transaction.currency for p in posted}):
        uow.ledger.snapshot(currency)
    return posted


def _invoice(period: PeriodRecord, vendor: str, p: Posted) -> dict[str, Any]:
    debits = [e.amount for e in p.transaction.entries if e.account == receivable(vendor)]
    return {
        "id": p.transaction.reference.removeprefix("invoices/"),
        "period": period.number,
        "vendor": vendor,
        "currency": p.transaction.currency,
        "total": sum(debits),
        "line_count": len(debits),
        "ledger_sequence": p.sequence,
        "issue_time": period.close_time,
    }


def _statements(period: PeriodRecord, posted: list[Posted]) -> list[dict[str, Any]]:
    lines: dict[tuple[str, str], list[tuple[int, int, Entry]]] = {}
    last: dict[str, Posted] = {}
    first: dict[str, int] = {}
    for p in posted:
        currency = p.transaction.currency
        first.setdefault(currency, p.sequence)
        last[currency] = p
        for position, e in enumerate(p.transaction.entries):
            if e.account.endswith("/payable"):
                party = e.account.removesuffix("/payable")
                lines.setdefault((party, currency), []).append((p.sequence, position, e))
    rows = []
    for (party, currency), entries in sorted(lines.items()):
        rows.append(
            {
                "id": document_id(period.number, party, currency),
                "period": period.number,
                "party": party,
                "currency": currency,
                "gross": sum(int(e.detail["gross"]) for _, _, e in entries),
                "commission": sum(int(e.detail["commission"]) for _, _, e in entries),
                "net": -sum(e.amount for _, _, e in entries),
                "line_count": len(entries),
                "digest": statement_digest(entries),
                "ledger_hash": last[currency].hash,
                "first_sequence": first[currency],
                "last_sequence": last[currency].sequence,
                "issue_time": period.close_time,
            }
        )
    return rows
