"""Protobuf to domain and back."""

from __future__ import annotations

from typing import Any

from licentia.settlement.v1 import resources_pb2 as res
from licentia.settlement.v1 import settlement_service_pb2 as api

from services.runtime.proto_time import timestamp
from services.settlement.domain.periods import PeriodRecord
from services.settlement.domain.postings import InvoiceLine
from services.settlement.service_layer.charges import CurrencyTotal
from services.settlement.service_layer.documents import CurrencyBalance, Document

_PERIOD_STATES = {
    "CLOSING": res.SettlementPeriod.STATE_CLOSING,
    "CLOSED": res.SettlementPeriod.STATE_CLOSED,
}
PAYOUT_STATES = {
    "PENDING": res.Payout.STATE_PENDING,
    "PAID": res.Payout.STATE_PAID,
    "FAILED": res.Payout.STATE_FAILED,
}
PAYOUT_STATE_NAMES = {number: name for name, number in PAYOUT_STATES.items()}


def period_name(number: int) -> str:
    return f"settlementPeriods/{number}"


def period_out(p: PeriodRecord) -> res.SettlementPeriod:
    return res.SettlementPeriod(
        name=period_name(p.number),
        number=p.number,
        start_time=timestamp(p.start),
        end_time=timestamp(p.end),
        state=_PERIOD_STATES[p.state],
        step=p.step,
        close_time=timestamp(p.close_time),
        closed_time=timestamp(p.closed_time),
    )


def invoice_out(doc: Document) -> res.Invoice:
    r = doc.row
    return res.Invoice(
        name=f"invoices/{r.id}",
        period=period_name(r.period),
        vendor=r.vendor,
        currency=r.currency,
        total=r.total,
        ledger_sequence=r.ledger_sequence,
        issue_time=timestamp(r.issue_time),
        lines=[
            res.InvoiceLine(
                license=d["license"], work=d["work"], use=d["use"], unit=d["unit"],
                kind=d["kind"], quantity=d["quantity"], amount=d["amount"],
                for_period=d["period"], adjustment=d["adjustment"],
            )
            for d in doc.lines
        ],
    )  # fmt: skip


def statement_out(doc: Document) -> res.Statement:
    r = doc.row
    return res.Statement(
        name=f"statements/{r.id}",
        period=period_name(r.period),
        party=r.party,
        currency=r.currency,
        gross=r.gross,
        commission=r.commission,
        net=r.net,
        digest=r.digest,
        ledger_hash=r.ledger_hash,
        issue_time=timestamp(r.issue_time),
        lines=[
            res.StatementLine(
                vendor=d["vendor"], license=d["license"], work=d["work"], use=d["use"],
                unit=d["unit"], kind=d["kind"], gross=d["gross"],
                commission_bps=d["commission_bps"], commission=d["commission"],
                net=-d["amount"], for_period=d["period"], adjustment=d["adjustment"],
            )
            for d in doc.lines
        ],
    )  # fmt: skip


def running_line_out(line: InvoiceLine) -> res.InvoiceLine:
    k, c = line.charge.key, line.charge
    return res.InvoiceLine(
        license=k.license, work=k.work, use=k.use, unit=k.unit, kind=k.kind,
        quantity=c.quantity, amount=c.amount, for_period=line.for_period,
        adjustment=line.adjustment,
    )  # fmt: skip


def budget_out(row: Any) -> res.Budget:
    return res.Budget(
        vendor=row.vendor,
        currency=row.currency,
        amount=row.amount,
        alert_threshold_bps=row.alert_bps,
    )


def total_out(t: CurrencyTotal) -> api.CurrencyCharges:
    return api.CurrencyCharges(
        currency=t.currency,
        total=t.total,
        budget=budget_out(t.budget) if t.budget is not None else None,
        alert=t.alert,
        over_budget=t.over_budget,
    )


def payout_out(row: Any) -> res.Payout:
    return res.Payout(
        name=f"payouts/{row.id}",
        party=row.party,
        currency=row.currency,
        amount=row.amount,
        state=PAYOUT_STATES[row.state],
        external_reference=row.external_reference,
        failure_reason=row.failure_reason,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )


def entry_out(row: Any) -> res.LedgerEntry:
    return res.LedgerEntry(
        currency=row.currency,
        sequence=row.sequence,
        position=row.position,
        account=row.account,
        amount=row.amount,
        detail_json=row.detail,
        kind=row.kind,
        reference=row.reference,
        posted_at=timestamp(row.posted_at),
        transaction_hash=row.hash,
    )


def trial_balance_out(b: CurrencyBalance) -> api.CurrencyBalance:
    debits = sum(v for v in b.balances.values() if v > 0)
    credits = -sum(v for v in b.balances.values() if v < 0)
    return api.CurrencyBalance(
        currency=b.currency,
        accounts=[res.AccountBalance(account=a, balance=v) for a, v in sorted(b.balances.items())],
        total_debits=debits,
        total_credits=credits,
        balanced=debits == credits,
        head_sequence=b.head_sequence,
        head_hash=b.head_hash,
        recomputed=b.recomputed,
        problems=b.problems,
    )
