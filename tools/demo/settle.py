"""Step 6 of the demo: settlement closes the period, issues invoices and statements,
proves the trial balance and verifies a statement against the ledger."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from licentia.settlement.v1 import resources_pb2 as sres
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from rich.console import Console

from services.cli.output import money, table
from services.client import new_request_id
from services.runtime.proto_time import timestamp
from tools.demo.market import CO_OWNER, Market


@dataclass(frozen=True)
class Settled:
    invoiced: int
    stated: int
    balanced: bool
    verified: bool


def close_period(market: Market, start: datetime, end: datetime, console: Console) -> Settled:
    op = market.operator.settlement
    period = op.CloseSettlementPeriod(
        sapi.CloseSettlementPeriodRequest(
            start_time=timestamp(start), end_time=timestamp(end), request_id=new_request_id()
        )
    )
    console.print(
        f"[bold]6.[/] operator closed {period.name} "
        f"({start:%H:%M}-{end:%H:%M} UTC, step {period.step})"
    )
    rows = []
    for vendor in market.vendors.values():
        for summary in vendor.client.settlement.ListInvoices(sapi.ListInvoicesRequest()).invoices:
            invoice = vendor.client.settlement.GetInvoice(sapi.GetInvoiceRequest(name=summary.name))
            per_license: dict[str, int] = defaultdict(int)
            for line in invoice.lines:
                per_license[line.license] += line.amount
            detail = ", ".join(
                f"{name}: {money(a, invoice.currency)}" for name, a in per_license.items()
            )
            rows.append(
                (invoice.name, len(invoice.lines), money(invoice.total, invoice.currency), detail)
            )
    table(
        "   invoices (one per vendor and currency)",
        ["invoice", "lines", "total", "by license"],
        rows,
    )
    statements = op.ListStatements(sapi.ListStatementsRequest()).statements
    table(
        "   statements (one per rights holder), commission disclosed on every line",
        ["rights holder", "gross", "commission", "net"],
        [
            (s.party, money(s.gross, s.currency), money(s.commission, s.currency),
             money(s.net, s.currency))
            for s in statements
        ],
    )  # fmt: skip
    invoiced = sum(i.total for i in op.ListInvoices(sapi.ListInvoicesRequest()).invoices)
    stated = sum(s.net + s.commission for s in statements)
    [usd] = op.GetTrialBalance(sapi.GetTrialBalanceRequest(currency="USD")).currencies
    console.print(
        f"   invoices {money(invoiced, 'USD')} = statements' net + commission "
        f"{money(stated, 'USD')}; trial balance: debits {money(usd.total_debits, 'USD')}, "
        f"credits {money(usd.total_credits, 'USD')}, balanced: {usd.balanced}"
    )
    if invoiced != stated or not usd.balanced:
        raise RuntimeError("settlement does not reconcile")
    co_owned = next(s for s in statements if s.party == CO_OWNER)
    verdict = op.VerifyStatement(sapi.VerifyStatementRequest(name=co_owned.name))
    console.print(
        f"   {co_owned.name} verified against the ledger: valid {verdict.valid}, "
        f"digest {verdict.recomputed_digest[:16]}..., chain head {verdict.head_hash[:16]}..."
    )
    if not verdict.valid:
        raise RuntimeError(f"statement did not verify: {list(verdict.problems)}")
    return Settled(invoiced, stated, usd.balanced, verdict.valid)


def running_charges(market: Market, console: Console) -> None:
    a = market.vendors["answer-engine"].client
    a.settlement.SetAttributionPool(
        sapi.SetAttributionPoolRequest(
            vendor="vendors/answer-engine", currency="USD", amount=80_000
        )
    )
    a.settlement.SetBudget(
        sapi.SetBudgetRequest(
            budget=sres.Budget(
                vendor="vendors/answer-engine", currency="USD", amount=50_000,
                alert_threshold_bps=8_000,
            )
        )
    )  # fmt: skip
    charges = a.settlement.GetRunningCharges(sapi.GetRunningChargesRequest())
    for total in charges.totals:
        so_far = money(total.total, total.currency)
        console.print(
            f"   vendor A's running charges in the open period: {so_far} (the revenue share "
            f"of an $800 pool by attribution), budget {money(total.budget.amount, 'USD')}, "
            f"alert: {total.alert}"
        )
