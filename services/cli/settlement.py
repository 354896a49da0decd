"""`licentia settlement`: close periods, invoices, the trial balance, payouts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from licentia.settlement.v1 import resources_pb2 as sres
from licentia.settlement.v1 import settlement_service_pb2 as sapi

from services.cli.output import as_dict, console, emit_json, enum_name, listing, money, say, table
from services.cli.profile import CurrencyOption, JsonOption, ProfileOption, connect
from services.client import new_request_id
from services.runtime.money_text import minor_digits, parse_micros
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


@app.command("payouts", help="Payouts: pending, paid or failed.")
def payouts(
    party: Annotated[str, typer.Option(help="publishers/{p}; empty: all you may see")] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = sapi.ListPayoutsRequest(party=party)
    with connect(profile) as lic:
        found = list(lic.paged(lic.settlement.ListPayouts, request, "payouts"))
    if not found and not as_json:
        console.print("no payouts yet")
        return
    listing(found, as_json, "payouts", ["payout", "party", "amount", "state", "reference"],
            lambda p: (p.name, p.party, money(p.amount, p.currency),
                       enum_name(sres.Payout.State, p.state),
                       p.external_reference or p.failure_reason))  # fmt: skip


@app.command("pay", help="Create a payout of what a party is owed (sent to your payment rail).")
def pay(
    party: Annotated[str, typer.Argument(help="publishers/{p}")],
    currency: CurrencyOption = "USD",
    amount: Annotated[
        str, typer.Option(help="in currency units; default: the whole payable balance")
    ] = "",
    request_id: Annotated[
        str, typer.Option(help="reuse to retry safely (default: a new one)")
    ] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    minor = minor_units(amount, currency) if amount else 0
    with connect(profile) as lic:
        payout = lic.settlement.CreatePayout(
            sapi.CreatePayoutRequest(
                party=party, currency=currency, amount=minor,
                request_id=request_id or new_request_id(),
            )
        )  # fmt: skip
    emit_json(as_dict(payout)) if as_json else console.print(
        f"{payout.name}: {money(payout.amount, payout.currency)} to {payout.party}, pending"
    )


@app.command("confirm-payout", help="Record what the payment rail said: paid, or failed.")
def confirm_payout(
    payout: Annotated[str, typer.Argument(help="payouts/{id}")],
    reference: Annotated[str, typer.Option(help="the rail's reference (paid)")] = "",
    failed: Annotated[str, typer.Option(help="why it failed (the amount is payable again)")] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    if bool(reference) == bool(failed):
        raise typer.BadParameter("give --reference (paid) or --failed REASON, one of them")
    outcome = (
        sapi.ConfirmPayoutRequest.OUTCOME_FAILED
        if failed
        else (sapi.ConfirmPayoutRequest.OUTCOME_PAID)
    )
    with connect(profile) as lic:
        confirmed = lic.settlement.ConfirmPayout(
            sapi.ConfirmPayoutRequest(
                name=payout, outcome=outcome, external_reference=reference, failure_reason=failed
            )
        )
    emit_json(as_dict(confirmed)) if as_json else console.print(
        f"{confirmed.name}: {enum_name(sres.Payout.State, confirmed.state)}"
    )


def minor_units(amount: str, currency: str) -> int:
    """`12.50` USD -> 1250 (exact; more decimals than the currency has is an error)."""
    try:
        micros = parse_micros(amount)
    except ValueError:
        micros = -1
    step = 10 ** (6 - minor_digits(currency))
    if micros < 0 or micros % step:
        raise typer.BadParameter(f"--amount {amount!r}: a {currency} amount, e.g. 12.50")
    return micros // step


@app.command("periods", help="Settlement periods: their span and how far each close got.")
def periods(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    with connect(profile) as lic:
        found = list(
            lic.paged(
                lic.settlement.ListSettlementPeriods, sapi.ListSettlementPeriodsRequest(), "periods"
            )
        )
    listing(found, as_json, "periods", ["period", "start", "end", "state"],
            lambda p: (p.name, p.start_time.ToJsonString(), p.end_time.ToJsonString(),
                       enum_name(sres.SettlementPeriod.State, p.state)))  # fmt: skip


@app.command("verify-statement", help="Recompute a statement from the ledger: does it hold?")
def verify_statement(
    statement: Annotated[str, typer.Argument(help="statements/{id}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        answer = lic.settlement.VerifyStatement(sapi.VerifyStatementRequest(name=statement))
    if as_json or answer.valid:
        say(answer, as_json, f"{statement}: valid (digest {answer.statement_digest})")
    else:
        console.print(f"{statement}: NOT valid")
        for problem in answer.problems:
            console.print(f"  {problem}")
    if not answer.valid:
        raise typer.Exit(1)


@app.command("ledger", help="The ledger's entries, optionally of one account.")
def ledger(
    account: Annotated[str, typer.Option(help="e.g. marketplace/revenue; empty: all")] = "",
    currency: CurrencyOption = "USD",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = sapi.ListLedgerEntriesRequest(currency=currency, account=account)
    with connect(profile) as lic:
        found = list(lic.paged(lic.settlement.ListLedgerEntries, request, "entries"))
    listing(found, as_json, "ledger", ["#", "account", "amount", "kind", "reference"],
            lambda e: (e.sequence, e.account, money(e.amount, e.currency), e.kind,
                       e.reference))  # fmt: skip
