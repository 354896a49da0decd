"""`licentia publisher`: import works, publish offers, negotiate, read statements."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf.duration_pb2 import Duration
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import resources_pb2 as mres
from licentia.settlement.v1 import resources_pb2 as sres
from licentia.settlement.v1 import settlement_service_pb2 as sapi
from rich.progress import Progress

from services.cli import charts
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
from services.cli.pricing import MODELS, micros, price_of
from services.cli.profile import JsonOption, LicenseArgument, ProfileOption, WorkArgument, connect
from services.cli.settlement import moment
from services.cli.works_files import BadInput, count_works, read_works
from services.client import Licentia, new_request_id
from services.runtime.config import Settings
from services.runtime.proto_time import timestamp

app = typer.Typer(help="Publishers: works, offers, negotiations, statements.", no_args_is_help=True)
BATCH = 500


@app.command("import")
def import_works(
    path: Annotated[
        Path, typer.Argument(exists=True, help=".jsonl, .csv, or a folder of .txt/.html/.md")
    ],
    publisher: Annotated[str, typer.Option(help="publishers/{p}: the profile's own account")],
    language: Annotated[str, typer.Option(help="for a folder of files")] = "en",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stream the works in batches; re-running an import writes nothing twice."""
    outcomes: Counter[str] = Counter()
    failures: list[tuple[str, str]] = []
    bad_line: list[BadInput] = []
    try:
        total = count_works(path)
        with (
            connect(profile) as lic,
            Progress(console=console, transient=True, disable=as_json) as bar,
        ):
            task = bar.add_task(f"importing {path.name}", total=total)
            # A bad line ends the stream where it is (gRPC would report an exception in
            # the request iterator as UNKNOWN): the works before it are imported.
            requests = _batches(publisher, _until_bad(read_works(path, language), bad_line))
            for response in lic.catalog.ImportWorks(requests):
                for result in response.results:
                    outcome = enum_name(capi.ImportWorkResult.Outcome, result.outcome)
                    outcomes[outcome] += 1
                    if outcome == "FAILED":
                        failures.append((result.external_id, result.error.message))
                bar.advance(task, len(response.results))
    except BadInput as error:
        bad_line.append(error)
    if bad_line:
        # One plain line, `file:line: what is wrong`, that editors and scripts can follow.
        imported = sum(outcomes.values())
        errors.print(
            f"licentia: {bad_line[0]}\n  {imported} works before it were imported; fix the "
            "line and run the import again: nothing is imported twice",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    if as_json:
        emit_json({"outcomes": dict(outcomes), "failures": failures})
    else:
        console.print(", ".join(f"{n} {o.lower()}" for o, n in sorted(outcomes.items())))
        for external_id, reason in failures[:20]:
            console.print(f"  [red]failed[/] {external_id}: {reason}")
    if failures:
        raise typer.Exit(1)


def _until_bad(works: Iterator[object], bad: list[BadInput]) -> Iterator[object]:
    try:
        yield from works
    except BadInput as error:
        bad.append(error)


def _batches(publisher: str, works: Iterator[object]) -> Iterator[capi.ImportWorksRequest]:
    batch = []
    for work in works:
        batch.append(work)
        if len(batch) == BATCH:
            yield capi.ImportWorksRequest(parent=publisher, works=batch)  # type: ignore[arg-type]
            batch = []
    if batch:
        yield capi.ImportWorksRequest(parent=publisher, works=batch)  # type: ignore[arg-type]


@app.command(
    "create-offer", help="Create an offer (a draft unless --publish) with its price and terms."
)
def create_offer(
    publisher: Annotated[str, typer.Option(help="publishers/{p}")],
    name: Annotated[str, typer.Option(help="display name")],
    model: Annotated[str, typer.Option(help=f"one of {', '.join(MODELS)}")],
    price: Annotated[str, typer.Option(help="in currency units, e.g. 0.005")] = "0",
    currency: Annotated[str, typer.Option(help="ISO 4217 code of the price")] = "USD",
    share: Annotated[float, typer.Option(help="revenue share, percent of the pool")] = 0.0,
    use: Annotated[
        list[str], typer.Option(help="permitted use (repeat): ai-input, ai-train...")
    ] = ["ai-input"],  # noqa: B006
    section: Annotated[list[str], typer.Option(help="scope: these sections only")] = [],  # noqa: B006
    floor: Annotated[str, typer.Option(help="auto-accept proposals at or above this price")] = "0",
    start: Annotated[str | None, typer.Option(help="licenses start then (ISO 8601)")] = None,
    tier: Annotated[
        list[str],
        typer.Option(
            help="volume tier FROM:PRICE (repeat), e.g. 100000:0.004: from that "
            "quantity in a period, that unit price"
        ),
    ] = [],  # noqa: B006
    cap: Annotated[
        str, typer.Option(help="most a license is charged per settlement period (currency units)")
    ] = "0",
    territory: Annotated[
        list[str], typer.Option(help="permitted territory, ISO 3166 code (repeat); default: all")
    ] = [],  # noqa: B006
    days: Annotated[
        int, typer.Option(help="each license lasts this many days (0: open-ended)")
    ] = 0,
    publish: Annotated[bool, typer.Option(help="publish it at once")] = False,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    priced = price_of(model, price, currency, share)
    priced.tiers.extend(_tier(t) for t in tier)
    priced.period_cap_micros = micros(cap)
    terms = lres.Terms(
        permitted_uses=use or ["ai-input"],
        scope=lres.Scope(sections=section or []),
        price=priced,
        start_time=timestamp(moment(start)) if start else None,
        permitted_territories=territory,
        duration=Duration(seconds=days * 86_400) if days else None,
    )
    with connect(profile) as lic:
        offer = lic.licensing.CreateOffer(
            lapi.CreateOfferRequest(
                parent=publisher,
                offer=lres.Offer(
                    display_name=name,
                    terms=terms,
                    auto_accept_floor_micros=price_of(model, floor, currency, 0).amount_micros,
                ),
                request_id=new_request_id(),
            )
        )
        if publish:
            offer = lic.licensing.PublishOffer(lapi.PublishOfferRequest(name=offer.name))
    state = enum_name(lres.Offer.State, offer.state)
    emit_json(as_dict(offer)) if as_json else console.print(
        f"{offer.name} ({state}, commission {offer.commission_bps / 100:g}%)"
    )


def _tier(text: str) -> lres.VolumeTier:
    quantity, sep, amount = text.partition(":")
    if not sep or not quantity.strip().isdigit():
        raise typer.BadParameter(f"--tier {text!r}: FROM:PRICE, e.g. 100000:0.004")
    return lres.VolumeTier(from_quantity=int(quantity), amount_micros=micros(amount))


@app.command("offers", help="A publisher's offers, drafts included.")
def offers(
    publisher: Annotated[str, typer.Option(help="publishers/{p}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        found = list(
            lic.paged(lic.licensing.ListOffers, lapi.ListOffersRequest(parent=publisher), "offers")
        )
    if as_json:
        emit_json([as_dict(o) for o in found])
        return
    table(
        "offers",
        ["offer", "name", "state", "model", "uses"],
        [
            (o.name, o.display_name, enum_name(lres.Offer.State, o.state),
             enum_name(lres.Price.Model, o.terms.price.model), ", ".join(o.terms.permitted_uses))
            for o in found
        ],
    )  # fmt: skip


@app.command("statements")
def statements(
    party: Annotated[str, typer.Option(help="publishers/{p} (or another rights holder)")],
    png: Annotated[
        Path | None, typer.Option(help="also draw the revenue chart to this PNG")
    ] = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Statements per period (gross, commission, net) and the revenue chart."""
    with connect(profile) as lic:
        found = list(
            lic.paged(
                lic.settlement.ListStatements, sapi.ListStatementsRequest(party=party), "statements"
            )
        )
    if as_json:
        emit_json([as_dict(s) for s in found])
        return
    table(
        f"statements of {party}",
        ["statement", "period", "gross", "commission", "net"],
        [(s.name, s.period, money(s.gross, s.currency), money(s.commission, s.currency),
          money(s.net, s.currency)) for s in found],
    )  # fmt: skip
    net: dict[str, int] = defaultdict(int)
    currency = found[0].currency if found else "USD"
    for s in found:
        if s.currency == currency:
            net[s.period.rsplit("/", 1)[-1]] += s.net
    console.print(charts.terminal_bars(f"net revenue per period ({currency})", net, currency))
    if png is not None:
        with connect(profile) as lic:
            revenue, usage = _over_time(lic, party, [s for s in found if s.currency == currency])
        title = f"{party}: revenue and usage over time"
        charts.png_revenue(png, title, revenue, usage, currency)
        console.print(f"chart written to {png}")


def _over_time(
    lic: Licentia, party: str, found: list[sres.Statement]
) -> tuple[dict[datetime, dict[str, int]], dict[datetime, dict[str, int]]]:
    """Net revenue per period start and vendor (from the statements' lines), and usage
    events per day and vendor over the same span (metering's summary)."""
    periods = {
        name: lic.settlement.GetSettlementPeriod(sapi.GetSettlementPeriodRequest(name=name))
        for name in {s.period for s in found}
    }
    revenue: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for statement in found:
        start = periods[statement.period].start_time.ToDatetime(UTC)
        for line in statement.lines:
            revenue[start][line.vendor] += line.net
    usage: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if periods:
        first = min(p.start_time.ToDatetime(UTC) for p in periods.values())
        last = max(p.end_time.ToDatetime(UTC) for p in periods.values())
        summary = lic.metering.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=timestamp(max(first, last - timedelta(days=400))),
                end_time=timestamp(last),
                group_by=[mres.DIMENSION_VENDOR],
                granularity=mres.GRANULARITY_DAY,
                publisher=party,
            )
        )
        for row in summary.rows:
            usage[row.bucket_start.ToDatetime(UTC)][row.vendor] += row.events
    return revenue, usage


@app.command("crawlers")
def crawlers(
    client_id: Annotated[
        str, typer.Option(envvar="LICENTIA_EDGE_CLIENT_ID", help="your OAuth client id")
    ],
    client_secret: Annotated[
        str, typer.Option(envvar="LICENTIA_EDGE_CLIENT_SECRET", help="its secret")
    ],
    hours: Annotated[int, typer.Option(help="how far back, in hours")] = 24,
    edge: Annotated[str, typer.Option(help="the edge's URL (default: the configured one)")] = "",
    as_json: JsonOption = False,
) -> None:
    """AI crawlers at your edge per hour: licensed, paid, refused (by reason), unverified."""
    base = (edge or Settings().public_url_of_edge()).rstrip("/")
    request = urllib.request.Request(f"{base}/toll/analytics?hours={hours}")
    token = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            report = json.load(answer)
    except urllib.error.HTTPError as error:
        errors.print(f"licentia: the edge answered {error.code}: {error.read()[:300]!r}")
        raise typer.Exit(1) from None
    except OSError as error:
        errors.print(f"licentia: cannot reach the edge at {base}: {error}")
        raise typer.Exit(1) from None
    if as_json:
        emit_json(report)
        return
    rows = report["rows"]
    if not rows:
        console.print(f"no AI crawler traffic since {report['since']}")
        return
    table(
        f"AI crawlers at the edge since {report['since']}",
        ["hour", "crawler", "vendor", "outcome", "requests"],
        [(r["hour"], r["crawler"], r["vendor"], r["outcome"], r["requests"]) for r in rows],
    )


@app.command("proposals")
def proposals(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    """Negotiations on your offers (vendors see theirs the same way)."""
    with connect(profile) as lic:
        found = list(
            lic.paged(lic.licensing.ListProposals, lapi.ListProposalsRequest(), "proposals")
        )
    if as_json:
        emit_json([as_dict(x) for x in found])
        return
    table(
        "proposals",
        ["proposal", "vendor", "offer", "state", "turn", "price"],
        [(x.name, x.vendor, x.offer, enum_name(lres.Proposal.State, x.state),
          enum_name(lres.Proposal.Party, x.turn),
          price_text(x.terms.price.amount_micros, x.terms.price.currency)) for x in found],
    )  # fmt: skip


@app.command("counter", help="Answer a vendor's proposal with another price.")
def counter(
    proposal: Annotated[str, typer.Argument(help="proposals/{id}")],
    price: Annotated[str, typer.Option(help="the price you offer instead (currency units)")],
    note: Annotated[str, typer.Option(help="a note the vendor reads with it")] = "",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        current = lic.licensing.GetProposal(lapi.GetProposalRequest(name=proposal))
        terms = lres.Terms()
        terms.CopyFrom(current.terms)
        terms.price.amount_micros = micros(price)
        countered = lic.licensing.CounterProposal(
            lapi.CounterProposalRequest(name=proposal, terms=terms, note=note, etag=current.etag)
        )
    say(countered, as_json, f"countered {proposal} at {price}: the other party's turn")


@app.command("accept", help="Accept a vendor's proposal: the license is granted.")
def accept(
    proposal: Annotated[str, typer.Argument(help="proposals/{id}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        answer = lic.licensing.AcceptProposal(
            lapi.AcceptProposalRequest(name=proposal, request_id=new_request_id())
        )
    say(answer, as_json, f"accepted: {answer.license.name}")


@app.command("reject", help="Reject a vendor's proposal.")
def reject(
    proposal: Annotated[str, typer.Argument(help="proposals/{id}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        rejected = lic.licensing.RejectProposal(lapi.RejectProposalRequest(name=proposal))
    say(rejected, as_json, f"rejected {proposal}")


# -- offers and licenses after the fact ------------------------------------------------

Name = Annotated[str, typer.Argument(help="the resource's name")]
Reason = Annotated[str, typer.Option(help="why, for the vendor and the record")]


def _offer_change(call: str, offer: str, profile: str | None, as_json: bool) -> None:
    with connect(profile) as lic:
        current = lic.licensing.GetOffer(lapi.GetOfferRequest(name=offer))
        request = getattr(lapi, f"{call}Request")(name=offer, etag=current.etag)
        changed = getattr(lic.licensing, call)(request)
    if as_json:
        emit_json(as_dict(changed))
    else:
        console.print(f"{changed.name}: {enum_name(lres.Offer.State, changed.state)}")


@app.command("publish", help="Publish a draft offer: vendors see it and may take it.")
def publish(offer: Name, profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    _offer_change("PublishOffer", offer, profile, as_json)


@app.command("withdraw", help="Withdraw an offer: no new licenses (granted ones stay).")
def withdraw(offer: Name, profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    _offer_change("WithdrawOffer", offer, profile, as_json)


def _license_change(license_name: str, profile: str | None, as_json: bool, **how: str) -> None:
    call, request = {
        "suspend": ("SuspendLicense", lapi.SuspendLicenseRequest),
        "resume": ("ResumeLicense", lapi.ResumeLicenseRequest),
        "revoke": ("RevokeLicense", lapi.RevokeLicenseRequest),
    }[how.pop("action")]
    with connect(profile) as lic:
        changed = getattr(lic.licensing, call)(request(name=license_name, **how))
    if as_json:
        emit_json(as_dict(changed))
    else:
        console.print(f"{changed.name}: {enum_name(lres.License.State, changed.state)}")


@app.command("suspend", help="Suspend a license at once (e.g. an unpaid invoice).")
def suspend(
    license_name: LicenseArgument,
    reason: Reason,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    _license_change(license_name, profile, as_json, action="suspend", reason=reason)


@app.command("resume", help="Resume a suspended license.")
def resume(
    license_name: LicenseArgument,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    _license_change(license_name, profile, as_json, action="resume")


@app.command("revoke", help="Revoke a license for good (a breach of its terms).")
def revoke(
    license_name: LicenseArgument,
    reason: Reason,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    _license_change(license_name, profile, as_json, action="revoke", reason=reason)


@app.command("rsl", help="Your terms as RSL 1.0 (license.xml), with the robots.txt line.")
def rsl(
    publisher: Annotated[str, typer.Option(help="publishers/{p}")],
    site: Annotated[str, typer.Option(help="your site's base URL, for <content url>")] = "",
    profile: ProfileOption = None,
) -> None:
    with connect(profile) as lic:
        document = lic.licensing.GetRslDocument(
            lapi.GetRslDocumentRequest(publisher=publisher, site_url=site)
        )
    print(document.rsl_xml)
    errors.print(f"[dim]robots.txt: {document.robots_txt_line}[/]", highlight=False)


_DIMENSIONS = {"vendor": mres.DIMENSION_VENDOR, "publisher": mres.DIMENSION_PUBLISHER,
               "license": mres.DIMENSION_LICENSE, "work": mres.DIMENSION_WORK,
               "use": mres.DIMENSION_USE}  # fmt: skip
_GRANULARITY = {"hour": mres.GRANULARITY_HOUR, "day": mres.GRANULARITY_DAY,
                "month": mres.GRANULARITY_MONTH, "none": mres.GRANULARITY_UNSPECIFIED}  # fmt: skip


@app.command("usage", help="Usage of works summed per vendor, work, use... and per hour/day/month.")
def usage(
    start: Annotated[str, typer.Option(help="from this hour (ISO 8601, UTC hour)")],
    end: Annotated[str, typer.Option(help="to this hour, excluded")],
    by: Annotated[
        list[str] | None, typer.Option(help=f"group by (repeat): {', '.join(_DIMENSIONS)}")
    ] = None,
    every: Annotated[str, typer.Option(help=f"one of {', '.join(_GRANULARITY)}")] = "day",
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    by = by or ["vendor"]
    unknown = [d for d in by if d not in _DIMENSIONS]
    if unknown or every not in _GRANULARITY:
        raise typer.BadParameter(
            f"--by one of {', '.join(_DIMENSIONS)}; --every one of {', '.join(_GRANULARITY)}"
        )
    request = mapi.GetUsageSummaryRequest(
        start_time=timestamp(moment(start)), end_time=timestamp(moment(end)),
        group_by=[_DIMENSIONS[d] for d in by], granularity=_GRANULARITY[every],
    )  # fmt: skip
    with connect(profile) as lic:
        rows = list(lic.metering.GetUsageSummary(request).rows)
    if as_json:
        emit_json([as_dict(r) for r in rows])
        return
    if not rows:
        console.print("no usage in that time")
        return
    columns = [*by, "unit", "bucket", "quantity", "events"]
    table("usage", columns, [
        (*(getattr(r, d) for d in by), enum_name(mres.Unit, r.unit),
         r.bucket_start.ToJsonString() if r.HasField("bucket_start") else "", r.quantity, r.events)
        for r in rows
    ])  # fmt: skip


@app.command("delete-work", help="Delete a work: no new licenses cover it; provenance forgets it.")
def delete_work(
    work: WorkArgument,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    with connect(profile) as lic:
        lic.catalog.DeleteWork(capi.DeleteWorkRequest(name=work))
    say({"deleted": work}, as_json, f"deleted {work}")


@app.command("versions", help="A work's versions (each revision of its text).")
def versions(
    work: WorkArgument,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = capi.ListWorkVersionsRequest(parent=work)
    with connect(profile) as lic:
        found = list(lic.paged(lic.catalog.ListWorkVersions, request, "versions"))
    listing(found, as_json, "versions", ["version", "title", "words", "created"],
            lambda v: (v.version, v.title, v.word_count, v.create_time.ToJsonString()))  # fmt: skip


@app.command("import-rsl", help="Create draft offers from an RSL 1.0 document (license.xml).")
def import_rsl(
    path: Annotated[Path, typer.Argument(exists=True, help="the RSL document")],
    publisher: Annotated[str, typer.Option(help="publishers/{p}")],
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    request = lapi.ImportRslDocumentRequest(publisher=publisher, rsl_xml=path.read_text("utf-8"))
    with connect(profile) as lic:
        created = lic.licensing.ImportRslDocument(request).offers
    if as_json:
        emit_json([as_dict(o) for o in created])
        return
    for offer in created:
        console.print(f"{offer.name} ({enum_name(lres.Offer.State, offer.state)})")
