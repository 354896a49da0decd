"""`licentia vendor`: offers, proposals, licenses, tokens, checking texts, usage."""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.json_format import ParseDict
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import resources_pb2 as mres
from licentia.provenance.v1 import provenance_service_pb2 as papi
from licentia.provenance.v1 import resources_pb2 as pres
from licentia.settlement.v1 import resources_pb2 as sres
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from rich.text import Text

from services.cli import publisher, settlement
from services.cli.output import (
    as_dict,
    console,
    emit_json,
    enum_name,
    errors,
    listing,
    money,
    price_text,
    say,
    table,
)
from services.cli.pricing import micros
from services.cli.profile import (
    CurrencyOption,
    JsonOption,
    LicenseArgument,
    ProfileOption,
    TerritoryOption,
    UseOption,
    WorkArgument,
    connect,
)
from services.client import UsageBatcher, new_request_id

app = typer.Typer(
    help="AI vendors: offers, licenses, provenance checks, usage.", no_args_is_help=True
)
_COLOURS = ["on dark_green", "on dark_blue", "on dark_magenta", "on dark_cyan", "on grey37"]


@app.command("offers")
def offers(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    """Every published offer in the marketplace."""
    with connect(profile) as lic:
        found = list(
            lic.paged(
                lic.licensing.ListOffers, lapi.ListOffersRequest(parent="publishers/-"), "offers"
            )
        )
    if as_json:
        emit_json([as_dict(o) for o in found])
        return
    table(
        "published offers",
        ["offer", "name", "model", "price", "uses"],
        [(o.name, o.display_name, enum_name(lres.Price.Model, o.terms.price.model),
          price_text(o.terms.price.amount_micros, o.terms.price.currency),
          ", ".join(o.terms.permitted_uses)) for o in found],
    )  # fmt: skip


@app.command("propose")
def propose(
    offer: Annotated[str, typer.Argument(help="publishers/{p}/offers/{o}")],
    price: Annotated[
        str | None, typer.Option(help="propose this price instead (currency units)")
    ] = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take the offer as is, or propose another price (the publisher's turn next)."""
    with connect(profile) as lic:
        terms = None
        if price is not None:
            terms = lres.Terms()
            terms.CopyFrom(lic.licensing.GetOffer(lapi.GetOfferRequest(name=offer)).terms)
            terms.price.amount_micros = micros(price)
        proposal = lic.licensing.CreateProposal(
            lapi.CreateProposalRequest(offer=offer, terms=terms)
        )
    if as_json:
        emit_json(as_dict(proposal))
    else:
        state = enum_name(lres.Proposal.State, proposal.state)
        console.print(
            f"{proposal.name}: {state}{f', license {proposal.license}' if proposal.license else ''}"
        )


# The same list as the publisher's: each party sees its own negotiations.
app.command("proposals", help="Your negotiations and whose turn it is.")(publisher.proposals)
app.command("counter", help="Answer a publisher's counter-proposal with another price.")(
    publisher.counter
)
app.command("reject", help="Reject a publisher's counter-proposal.")(publisher.reject)
app.command("usage", help="Your usage, summed per publisher, work, use... over time.")(
    publisher.usage
)


@app.command("works", help="Works in the catalog (to license, check or report usage).")
def works(
    publisher_name: Annotated[
        str, typer.Option("--publisher", help="publishers/{p}; default: every publisher")
    ] = "publishers/-",
    section: Annotated[str, typer.Option(help="only this section")] = "",
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = capi.ListWorksRequest(parent=publisher_name, section=section, page_size=limit)
    with connect(profile) as lic:
        found = list(islice(lic.paged(lic.catalog.ListWorks, request, "works"), limit))
    listing(found, as_json, "works", ["work", "title", "section", "version"],
            lambda w: (w.name, w.title, w.section, w.version))  # fmt: skip


@app.command("work", help="One work: its metadata (BASIC view).")
def work(
    name: WorkArgument,
    profile: ProfileOption = None,
) -> None:
    with connect(profile) as lic:
        found = lic.catalog.GetWork(capi.GetWorkRequest(name=name, view=cres.WORK_VIEW_BASIC))
    emit_json(as_dict(found))


@app.command("accept", help="Accept a publisher's counter-proposal: the license is granted.")
def accept(
    proposal: Annotated[str, typer.Argument(help="proposals/{id}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        answer = lic.licensing.AcceptProposal(
            lapi.AcceptProposalRequest(name=proposal, request_id=new_request_id())
        )
    emit_json(as_dict(answer)) if as_json else console.print(f"licensed: {answer.license.name}")


@app.command("licenses", help="The licenses you hold, with their state and terms.")
def licenses(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    with connect(profile) as lic:
        found = list(lic.paged(lic.licensing.ListLicenses, lapi.ListLicensesRequest(), "licenses"))
    if as_json:
        emit_json([as_dict(x) for x in found])
        return
    table(
        "licenses",
        ["license", "publisher", "state", "uses"],
        [(x.name, x.publisher, enum_name(lres.License.State, x.state),
          ", ".join(x.terms.permitted_uses)) for x in found],
    )  # fmt: skip


@app.command("token")
def token(
    license_name: LicenseArgument,
    profile: ProfileOption = None,
) -> None:
    """A signed license token (JWS) anyone can verify with the published keys."""
    with connect(profile) as lic:
        issued = lic.licensing.IssueLicenseToken(
            lapi.IssueLicenseTokenRequest(license=license_name)
        )
    print(issued.token)


@app.command("check-text")
def check_text(
    path: Annotated[str, typer.Argument(help="a file, or - for stdin")] = "-",
    use: UseOption = "ai-input",
    record: Annotated[
        bool, typer.Option(help="record licensed matches as attribution usage")
    ] = False,
    semantic: Annotated[
        bool,
        typer.Option(help="also find works the text restates in other words (paraphrase)"),
    ] = False,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which registered works the text derives from, highlighted where."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    with connect(profile) as lic:
        response = lic.provenance.CheckText(
            papi.CheckTextRequest(
                text=text, use=use, record_usage=record,
                request_id=new_request_id() if record else "",
                mode=papi.CHECK_MODE_SEMANTIC if semantic else papi.CHECK_MODE_LEXICAL,
            )
        )  # fmt: skip
    if as_json:
        emit_json(as_dict(response))
        return
    if not response.matches:
        console.print("no registered work found in this text")
        return
    shown = Text(text)
    rows = []
    for i, match in enumerate(response.matches):
        colour = _COLOURS[i % len(_COLOURS)]
        for span in match.spans:
            shown.stylize(colour, span.text_start, span.text_end)
        status = enum_name(pres.LicenseStatus, match.license_status)
        kind = enum_name(pres.MatchType, match.match_type)
        coverage = f"{match.text_coverage:.0%}"
        rows.append(
            (Text("  ", style=colour), match.work, kind, coverage, status, match.license or "-")
        )
    console.print(shown)
    table("matches", ["", "work", "match", "of text", "license status", "license"], rows)


@app.command("report-usage")
def report_usage(
    path: Annotated[Path, typer.Argument(exists=True, help="JSON Lines, one UsageEvent each")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send usage events in batches; a rerun of the same file counts nothing twice."""
    rejected = []
    with connect(profile) as lic, UsageBatcher(lic.metering) as batcher:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    event = ParseDict(json.loads(line), mres.UsageEvent())
                except Exception as error:
                    raise typer.BadParameter(f"{path}:{number}: {error}") from None
                batcher.add(event)
        batcher.flush()
        for event_id, result in batcher.results.items():
            if result.status == mres.EventResult.STATUS_REJECTED:
                rejected.append(
                    (event_id, mres.EventResult.Reason.Name(result.reason), result.message)
                )
    if batcher.refusals and not as_json:
        # The call itself was refused: one line says why, not one per event.
        for (code, message), count in batcher.refusals.items():
            errors.print(f"licentia: {code}: {message} ({count} events not recorded)")
        raise typer.Exit(1)
    if as_json:
        emit_json({"counts": dict(batcher.counts), "rejected": rejected})
    else:
        console.print(", ".join(f"{n} {s.lower()}" for s, n in sorted(batcher.counts.items())))
        for event_id, reason, message in rejected[:20]:
            console.print(f"  [red]{event_id}[/] {reason}: {message}")
    if rejected:
        raise typer.Exit(1)


@app.command("charges")
def charges(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    """Running charges in the open period, against the budgets."""
    with connect(profile) as lic:
        answer = lic.settlement.GetRunningCharges(sapi.GetRunningChargesRequest())
    if as_json:
        emit_json(as_dict(answer))
        return
    if not answer.totals:
        console.print("no charges in the open period yet")
    for total in answer.totals:
        budget = (
            f", budget {money(total.budget.amount, total.currency)}"
            if total.HasField("budget")
            else ""
        )
        alert = " [red]ALERT[/]" if total.alert else ""
        console.print(f"{money(total.total, total.currency)} so far{budget}{alert}")


@app.command("content", help="A licensed work's text, delivered and metered under your license.")
def content(
    work: WorkArgument,
    use: UseOption = "ai-input",
    territory: TerritoryOption = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = capi.GetWorkContentRequest(name=work, use=use, territory=territory)
    with connect(profile) as lic:
        delivered = lic.catalog.GetWorkContent(request)
    if as_json:
        emit_json(as_dict(delivered))
        return
    print(delivered.body)
    errors.print(f"[dim]{delivered.work} v{delivered.version} under {delivered.license}[/]")


@app.command("check-permission", help="May you use this work for this use now, and at what price.")
def check_permission(
    work: WorkArgument,
    use: UseOption = "ai-input",
    territory: TerritoryOption = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = lapi.CheckPermissionRequest(work=work, use=use, territory=territory)
    with connect(profile) as lic:
        answer = lic.licensing.CheckPermission(request)
    if as_json:
        emit_json(as_dict(answer))
    elif answer.allowed:
        price = price_text(answer.price.amount_micros, answer.price.currency)
        console.print(f"allowed under {answer.license} at {price}")
    else:
        console.print(f"not allowed: {answer.explanation}")
    if not answer.allowed:
        raise typer.Exit(1)


@app.command("verify-token", help="Check a license token (anyone may): valid, and for what.")
def verify_token(
    token: Annotated[str, typer.Argument(help="the JWS, as `vendor token` printed it")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        answer = lic.licensing.VerifyLicenseToken(lapi.VerifyLicenseTokenRequest(token=token))
    text = f"valid: {answer.license}" if answer.valid else f"not valid: {answer.reason}"
    say(answer, as_json, text)
    if not answer.valid:
        raise typer.Exit(1)


@app.command("budget", help="Your spending budget per settlement period, with an alert level.")
def budget(
    vendor_name: Annotated[str, typer.Option("--vendor", help="vendors/{v}")],
    amount: Annotated[str, typer.Option(help="in currency units, e.g. 500.00")],
    currency: CurrencyOption = "USD",
    alert: Annotated[int, typer.Option(help="alert at this percent of the budget")] = 80,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    minor = settlement.minor_units(amount, currency)
    request = sapi.SetBudgetRequest(
        budget=sres.Budget(vendor=vendor_name, currency=currency, amount=minor,
                           alert_threshold_bps=alert * 100)
    )  # fmt: skip
    with connect(profile) as lic:
        answer = lic.settlement.SetBudget(request)
    say(
        answer,
        as_json,
        f"budget {money(answer.amount, answer.currency)} per period for {answer.vendor}",
    )


@app.command("add-bot", help="Register your crawler for Web Bot Auth at publishers' edges.")
def add_bot(
    vendor_name: Annotated[str, typer.Option("--vendor", help="vendors/{v}")],
    user_agent: Annotated[str, typer.Option(help="a substring of its User-Agent, e.g. LabBot/")],
    key: Annotated[
        list[Path], typer.Option(exists=True, help="a file with its Ed25519 public JWK (repeat)")
    ],
    name: Annotated[str, typer.Option(help="display name")] = "",
    directory: Annotated[str, typer.Option(help="its key directory URL (Signature-Agent)")] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    bot = cres.Bot(
        display_name=name or user_agent, user_agent=user_agent,
        public_keys=[k.read_text("utf-8").strip() for k in key], key_directory_url=directory,
    )  # fmt: skip
    with connect(profile) as lic:
        created = lic.catalog.CreateBot(capi.CreateBotRequest(parent=vendor_name, bot=bot))
    if as_json:
        emit_json(as_dict(created))
    else:
        console.print(f"{created.name}: keys {', '.join(created.key_ids)}")


@app.command("bots", help="Your registered crawlers and their key ids.")
def bots(
    vendor_name: Annotated[str, typer.Option("--vendor", help="vendors/{v}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        found = list(lic.paged(lic.catalog.ListBots, capi.ListBotsRequest(parent=vendor_name),
                               "bots"))  # fmt: skip
    listing(found, as_json, "bots", ["bot", "user agent", "key ids"],
            lambda b: (b.name, b.user_agent, ", ".join(b.key_ids)))  # fmt: skip


@app.command("remove-bot", help="Forget a crawler: its signatures stop being recognised.")
def remove_bot(
    bot: Annotated[str, typer.Argument(help="vendors/{v}/bots/{b}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        lic.catalog.DeleteBot(capi.DeleteBotRequest(name=bot))
    say({"removed": bot}, as_json, f"removed {bot}")


@app.command("attribution-pool", help="What you pay publishers for attributions this period.")
def attribution_pool(
    vendor_name: Annotated[str, typer.Option("--vendor", help="vendors/{v}")],
    amount: Annotated[str, typer.Option(help="in currency units; replaces the period's pool")],
    currency: CurrencyOption = "USD",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = sapi.SetAttributionPoolRequest(
        vendor=vendor_name, currency=currency, amount=settlement.minor_units(amount, currency)
    )
    with connect(profile) as lic:
        answer = lic.settlement.SetAttributionPool(request)
    say(answer, as_json, f"pool of {amount} {currency} for period {answer.period_number}")
