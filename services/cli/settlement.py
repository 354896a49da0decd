"""`licentia settlement`: close periods, invoices, the trial balance, payouts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from licentia.settlement.v1 import settlement_service_pb2 as sapi

from services.cli.output import as_dict, console, emit_json, money, table
from services.cli.profile import JsonOption, ProfileOption, connect
from services.client import new_request_id
from services.runtime.proto_time import timestamp

app = typer.Typer(help="Settlement: periods, invoices, the ledger, payouts.", no_args_is_help=True)


def moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use ISO 8601, e.g. 2026-11-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r}: give a time zone (Z for UTC)")
    return moment


@app.command("close", help="Close settlement periods up to an hour: invoices, statements, payouts.")
def close(
    end: Annotated[str, typer.Option(help="period end, on the hour, ISO 8601")],
    start: Annotated[str | None, typer.Option(help="the first period's start")] = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        period = lic.settlement.CloseSettlementPeriod(
            sapi.CloseSettlementPeriodRequest(
                start_time=timestamp(moment(start)) if start else None,
                end_time=timestamp(moment(end)),
                request_id=new_request_id(),
            ),
            timeout=600,
        )
    emit_json(as_dict(period)) if as_json else console.print(
        f"{period.name} closed (step {period.step})"
    )


@app.command("invoices", help="Invoices of closed periods, per vendor.")
def invoices(
    vendor: Annotated[str, typer.Option(help="vendors/{v}; empty: all you may see")] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        found = list(
            lic.paged(
                lic.settlement.ListInvoices, sapi.ListInvoicesRequest(vendor=vendor), "invoices"
            )
        )
    if as_json:
        emit_json([as_dict(i) for i in found])
        return
    table("invoices", ["invoice", "vendor", "period", "total"],
          [(i.name, i.vendor, i.period, money(i.total, i.currency)) for i in found])  # fmt: skip


@app.command(
    "trial-balance", help="The ledger's trial balance: every account, debits equal credits."
)
def trial_balance(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    with connect(profile) as lic:
        answer = lic.settlement.GetTrialBalance(sapi.GetTrialBalanceRequest())
    if as_json:
        emit_json(as_dict(answer))
        return
    if not answer.currencies:
        console.print("the ledger is empty: nothing has been billed yet")
    for c in answer.currencies:
        table(
            f"trial balance, {c.currency} (balanced: {c.balanced})",
            ["account", "balance"],
            [(a.account, money(a.balance, c.currency)) for a in c.accounts],
        )
    if not all(c.balanced for c in answer.currencies):
        raise typer.Exit(1)


@app.command("export-payouts", help="Payouts owed to publishers, as CSV.")
def export_payouts(
    out: Annotated[Path | None, typer.Option(help="write the CSV here (default: stdout)")] = None,
    profile: ProfileOption = None,
) -> None:
    with connect(profile) as lic:
        csv_text = lic.settlement.ExportPayouts(sapi.ExportPayoutsRequest()).csv
    if out is None:
        print(csv_text, end="")
    else:
        out.write_text(csv_text)
        console.print(f"payouts written to {out}")
