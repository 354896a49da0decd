"""Paraphrase attribution through the real gRPC servers (catalog, licensing, provenance),
SQLite and PostgreSQL: CheckText and CheckTexts in semantic mode and not, license status
of a paraphrase, the semantic index in GetIndexStats, and a deployment without it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mapi_grpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import resources_pb2 as res

from services.provenance import app as provenance_app
from services.runtime.proto_time import timestamp
from tests.api.market import Market, start_metering, terms
from tests.api.test_provenance_api import client, create_work, provenance, stop  # noqa: F401
from tests.conftest import (
    OPERATOR_KEY,
    Client,
    ServiceHarness,
    error_reason,
    eventually,
    start_service,
)
from tests.unit.test_provenance_paraphrase import PARAPHRASE, UNRELATED, WORK_SENTENCE

LEXICAL, SEMANTIC = api.CHECK_MODE_LEXICAL, api.CHECK_MODE_SEMANTIC
OPENING = "The transport office published its annual report on road safety this week."
CLOSING = "Residents may comment on the plans until the end of next month at the town hall."


@pytest.fixture
def semantic(market: Market) -> Iterator[ServiceHarness]:
    settings = market.catalog.settings.with_ports(
        catalog=market.catalog.server.port, licensing=market.licensing.server.port
    ).model_copy(update={"provenance_poll_seconds": 0.05, "provenance_semantic": True})
    harness = start_service(provenance_app, settings)
    yield harness
    stop(harness)


def check(harness: ServiceHarness, key: str, text: str, mode: int) -> list[res.WorkMatch]:
    request = api.CheckTextRequest(text=text, mode=mode)
    return list(client(harness, key).CheckText(request).matches)


def test_a_paraphrased_work_is_found_in_semantic_mode_only(
    market: Market, semantic: ServiceHarness
) -> None:
    body = f"{OPENING} {WORK_SENTENCE} {CLOSING}"
    name = create_work(market, body, 40)
    create_work(market, f"{UNRELATED} The board will meet again in the spring to decide.", 41)
    answer = f"Here is what happened. {PARAPHRASE} That is all we know so far."

    found = eventually(lambda: check(semantic, OPERATOR_KEY, answer, SEMANTIC))
    assert [m.work for m in found] == [name]
    (match,) = found
    assert match.match_type == res.MATCH_TYPE_PARAPHRASE and match.version == 1
    (span,) = match.spans
    assert answer[span.text_start : span.text_end] == PARAPHRASE
    assert body[span.work_start : span.work_end] == WORK_SENTENCE
    assert 0.75 <= span.similarity == match.similarity <= 1.0
    assert span.matched_words == match.matched_words == 8
    assert check(semantic, OPERATOR_KEY, answer, LEXICAL) == []
    assert check(semantic, OPERATOR_KEY, answer, api.CHECK_MODE_UNSPECIFIED) == []

    # A quote is still a quote (found by wording, reported once).
    quoted = check(semantic, OPERATOR_KEY, body, SEMANTIC)
    assert [(m.work, m.match_type) for m in quoted] == [(name, res.MATCH_TYPE_EXACT)]

    stats = client(semantic, OPERATOR_KEY).GetIndexStats(api.GetIndexStatsRequest())
    assert stats.semantic_enabled and stats.semantic_works == stats.works >= 2  # the market's too
    assert stats.semantic_sentences >= 5 and stats.semantic_works_behind == 0
    assert stats.semantic_memory_bytes > 0

    # Streams take the mode per text.
    requests = [
        api.CheckTextsRequest(text=answer, client_ref="meaning", mode=SEMANTIC),
        api.CheckTextsRequest(text=answer, client_ref="wording"),
        api.CheckTextsRequest(text=answer, client_ref="bad", mode=9),
    ]
    replies = list(client(semantic, OPERATOR_KEY).CheckTexts(iter(requests)))
    assert [len(r.matches) for r in replies] == [1, 0, 0]
    assert replies[2].error.code == "INVALID_ARGUMENT" and "mode" in replies[2].error.message


def test_a_vendor_sees_the_license_status_of_a_paraphrase(
    market: Market, semantic: ServiceHarness
) -> None:
    name = create_work(market, f"{OPENING} {WORK_SENTENCE} {CLOSING}", 42)
    offer = market.offer(
        market.pa, terms(scope=lres.Scope(works=[name]), permitted_uses=["ai-input"])
    )
    market.license(market.va, offer)
    vendor_a, vendor_b = market.va.account.key, market.vb.account.key

    (match,) = eventually(lambda: check(semantic, vendor_a, PARAPHRASE, SEMANTIC))
    assert match.license_status == res.LICENSE_STATUS_LICENSED
    assert match.license.startswith("licenses/")
    (match,) = check(semantic, vendor_b, PARAPHRASE, SEMANTIC)
    assert match.license_status == res.LICENSE_STATUS_UNLICENSED

    # A licensed paraphrase is paid for as attribution usage, once per request.
    metering = start_metering(market)
    try:
        request = api.CheckTextRequest(
            text=PARAPHRASE, mode=SEMANTIC, record_usage=True, request_id="paraphrase-1"
        )
        (first,) = client(semantic, vendor_a).CheckText(request).matches
        (again,) = client(semantic, vendor_a).CheckText(request).matches
        assert first.usage_event.startswith("licentia:attribution:")
        assert again.usage_event == first.usage_event
        meter = Client(metering.channel, vendor_a, mapi_grpc.MeteringServiceStub)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        rows = meter.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=timestamp(hour - timedelta(hours=1)),
                end_time=timestamp(hour + timedelta(hours=2)),
                group_by=[mres.DIMENSION_WORK],
            )
        ).rows
        assert [(r.work, r.unit, r.quantity) for r in rows] == [(name, mres.UNIT_ATTRIBUTION, 1)]
    finally:
        stop(metering)


def test_a_deployment_without_the_semantic_index_says_so(
    market: Market,
    provenance: ServiceHarness,  # noqa: F811
) -> None:
    vendor = client(provenance, market.va.account.key)
    with pytest.raises(grpc.RpcError) as raised:
        vendor.CheckText(api.CheckTextRequest(text=PARAPHRASE, mode=SEMANTIC))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(raised.value) == "SEMANTIC_INDEX_OFF"
    with pytest.raises(grpc.RpcError) as raised:
        vendor.CheckText(api.CheckTextRequest(text=PARAPHRASE, mode=7))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "UNKNOWN_ENUM_VALUE"
    assert vendor.CheckText(api.CheckTextRequest(text=PARAPHRASE, mode=LEXICAL)).matches == []
    stats = client(provenance, OPERATOR_KEY).GetIndexStats(api.GetIndexStatsRequest())
    assert not stats.semantic_enabled
