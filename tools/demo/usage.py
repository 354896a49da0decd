"""Step 5 of the demo: vendor A uses content (fetches it, checks its answers, reports
tokens), vendor B reports training samples."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import resources_pb2 as mres
from licentia.provenance.v1 import provenance_service_pb2 as papi
from licentia.provenance.v1 import resources_pb2 as pres
from opentelemetry.trace import Tracer
from rich.console import Console

from services.cli.output import enum_name, table
from services.client import UsageBatcher, new_request_id
from services.runtime.proto_time import timestamp
from tools.demo.market import Market

FILLER = "According to several reports, here is what we know so far."


def wait_until_indexed(market: Market, expected: int, console: Console) -> None:
    started = time.monotonic()
    while time.monotonic() - started < 60:
        stats = market.operator.provenance.GetIndexStats(papi.GetIndexStatsRequest())
        if stats.works >= expected:
            console.print(
                f"   provenance indexed {stats.works} works "
                f"({stats.fingerprints:,} fingerprints) {time.monotonic() - started:.1f} s later"
            )
            return
        time.sleep(0.2)
    raise RuntimeError("provenance did not index the catalogue within 60 s")


def use_content(market: Market, tracer: Tracer, console: Console) -> str:
    """Returns the trace id of the answer check to show in step 7."""
    a = market.vendors["answer-engine"].client
    gazette = market.works["harbour-gazette"]
    for work in gazette[:5]:
        a.catalog.GetWorkContent(
            capi.GetWorkContentRequest(name=work.name, use="ai-input", request_id=new_request_id())
        )
    console.print("[bold]5.[/] vendor A fetched 5 licensed articles for RAG (deliveries metered)")
    ledger = market.works["city-ledger"]
    sources = {
        "licensed (per use)": gazette[0],
        "licensed (per 1k tokens)": market.works["northern-courier"][3],
        "licensed (revenue share)": next(w for w in ledger if w.section == "business"),
        "unlicensed (Ledger politics)": next(w for w in ledger if w.section == "politics"),
    }
    rows, trace_id = [], ""
    for label, work in sources.items():
        words = work.body.split()
        answer = f"{FILLER} {' '.join(words[20:75])} That is the latest."
        with tracer.start_as_current_span("vendor A checks a generated answer") as span:
            response = a.provenance.CheckText(
                papi.CheckTextRequest(text=answer, record_usage=True, request_id=new_request_id())
            )
            trace_id = trace_id or format(span.get_span_context().trace_id, "032x")
        for m in response.matches:
            status = enum_name(pres.LicenseStatus, m.license_status)
            rows.append(
                (label, m.work, enum_name(pres.MatchType, m.match_type),
                 f"{m.text_coverage:.0%}", status, "yes" if m.usage_event else "no")
            )  # fmt: skip
    table(
        "   vendor A's answers checked with CheckText (record_usage on)",
        ["answer quotes", "work found", "match", "of answer", "license", "metered"],
        rows,
    )
    return trace_id


def report_usage(market: Market, period_end: datetime, console: Console) -> int:
    """Vendor A reports yesterday's answers and tokens in batches; B its training."""
    rng = random.Random(5)
    a = market.vendors["answer-engine"].client
    gazette, courier = market.licenses["gazette"], market.licenses["courier"]
    events = []
    for i in range(1_200):
        by_gazette = i % 2 == 0
        works = market.works["harbour-gazette" if by_gazette else "northern-courier"]
        events.append(
            mres.UsageEvent(
                id=f"answer-{i}",
                license=(gazette if by_gazette else courier).name,
                work=works[rng.randrange(len(works))].name,
                use="ai-input",
                unit=mres.UNIT_USES if by_gazette else mres.UNIT_TOKENS,
                quantity=1 if by_gazette else rng.randint(400, 2_400),
                occur_time=timestamp(period_end - timedelta(minutes=rng.randint(5, 100))),
                source="answers-eu-1",
                attributes={"model": "answer-engine-7b"},
            )
        )
    with UsageBatcher(a.metering, batch_size=250, flush_seconds=0.2) as batcher:
        for event in events:
            batcher.add(event)
    retry = a.metering.RecordUsage(mapi.RecordUsageRequest(events=events[:250]))
    duplicates = sum(r.status == mres.EventResult.STATUS_DUPLICATE for r in retry.results)
    console.print(
        f"   vendor A reported {len(events):,} usage events in {batcher.batches_sent} batches "
        f"({dict(batcher.counts)}); a retried batch of 250 came back {duplicates} DUPLICATE: "
        "counted once"
    )
    b = market.vendors["model-lab"].client
    training = [
        mres.UsageEvent(
            id=f"sample-{w.name.rsplit('/', 1)[-1]}",
            license=market.licenses["ledger-training"].name,
            work=w.name,
            use="ai-train",
            unit=mres.UNIT_USES,
            quantity=1,
            occur_time=timestamp(period_end - timedelta(minutes=30)),
            source="training-run-12",
        )
        for w in market.works["city-ledger"]
    ]
    results = b.metering.RecordUsage(mapi.RecordUsageRequest(events=training)).results
    accepted = sum(r.status == mres.EventResult.STATUS_ACCEPTED for r in results)
    console.print(f"   vendor B reported {accepted} training samples from the Ledger")
    return duplicates
