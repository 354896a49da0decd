"""Provenance through the real gRPC servers (catalog, licensing, provenance), SQLite and
PostgreSQL: outbox-driven indexing, CheckText, license status, bad input, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.catalog.v1 import resources_pb2 as cres
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as mapi
from licentia.metering.v1 import metering_service_pb2_grpc as mapi_grpc
from licentia.metering.v1 import resources_pb2 as mres
from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import provenance_service_pb2_grpc as api_grpc
from licentia.provenance.v1 import resources_pb2 as res
from opentelemetry.sdk.trace import TracerProvider

from services.provenance import app as provenance_app
from services.provenance.adapters.licensing_client import LicensingPermissions
from services.runtime.clients import ServiceChannels
from services.runtime.proto_time import timestamp
from services.samples.articles import ArticleGenerator
from tests.api.helpers import article
from tests.api.market import Market, start_metering, terms
from tests.conftest import (
    OPERATOR_KEY,
    Client,
    ServiceHarness,
    error_reason,
    eventually,
    send_invalid_utf8,
    start_service,
)

TEXTS = ArticleGenerator(seed=11)


def start_provenance(market: Market) -> ServiceHarness:
    settings = market.catalog.settings.with_ports(
        catalog=market.catalog.server.port, licensing=market.licensing.server.port
    ).model_copy(update={"provenance_poll_seconds": 0.05})
    return start_service(provenance_app, settings)


def stop(harness: ServiceHarness) -> None:
    harness.channel.close()
    harness.server.stop(0)


@pytest.fixture
def provenance(market: Market) -> Iterator[ServiceHarness]:
    harness = start_provenance(market)
    yield harness
    stop(harness)


def client(harness: ServiceHarness, key: str | None) -> Client:
    return Client(harness.channel, key, api_grpc.ProvenanceServiceStub)


def create_work(market: Market, body: str, n: int) -> str:
    pa = market.pa.account
    work = article(100 + n, body=body, external_id=f"prov-{n}")
    return pa.client.CreateWork(capi.CreateWorkRequest(parent=pa.name, work=work)).name


def matches_for(harness: ServiceHarness, key: str, text: str, use: str = "") -> list[res.WorkMatch]:
    response = client(harness, key).CheckText(api.CheckTextRequest(text=text, use=use))
    return list(response.matches)


def test_a_registered_work_is_found_with_spans_in_both_texts(
    market: Market, provenance: ServiceHarness
) -> None:
    body = TEXTS.text(300)
    name = create_work(market, body, 1)
    words = body.split()
    excerpt = " ".join(words[100:140])
    text = f"{TEXTS.text(80)} {excerpt.upper()} {TEXTS.text(80)}"

    found = eventually(lambda: matches_for(provenance, OPERATOR_KEY, text))

    assert [m.work for m in found] == [name]
    match = found[0]
    assert match.publisher == market.pa.name and match.version == 1
    assert match.match_type == res.MATCH_TYPE_EXACT
    assert match.matched_words == match.longest_run_words == 40
    (span,) = match.spans
    assert text[span.text_start : span.text_end] == excerpt.upper()
    assert body[span.work_start : span.work_end].split() == excerpt.split()
    assert match.license_status == res.LICENSE_STATUS_UNSPECIFIED  # the operator is no vendor
    assert 0 < match.work_coverage < 1 and 0 < match.text_coverage < 1
    assert match.similarity == span.similarity == 1.0

    # Reworded every fifth word and laid out as a numbered list: the same work, one
    # aligned span, the edits and the similarity reported.
    reworded = [w if i % 5 else "changed" for i, w in enumerate(words[100:200], 1)]
    lines = [" ".join(reworded[i : i + 9]) for i in range(0, 100, 9)]
    listed = "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))
    (match,) = matches_for(provenance, OPERATOR_KEY, f"{TEXTS.text(60)}\n{listed}")
    assert match.work == name and match.match_type == res.MATCH_TYPE_EDITED
    (span,) = match.spans
    assert span.edited_words == 19 and span.matched_words >= 80
    assert 0.75 < span.similarity == match.similarity < 0.85


def test_deleted_and_updated_works_leave_the_index(
    market: Market, provenance: ServiceHarness
) -> None:
    first, second = TEXTS.text(200), TEXTS.text(200)
    name = create_work(market, first, 2)
    assert eventually(lambda: matches_for(provenance, OPERATOR_KEY, first))
    pa = market.pa.account
    pa.client.UpdateWork(
        capi.UpdateWorkRequest(
            work=cres.Work(name=name, body=second), update_mask={"paths": ["body"]}
        )
    )
    updated = eventually(lambda: matches_for(provenance, OPERATOR_KEY, second))
    assert [(m.work, m.version) for m in updated] == [(name, 2)]
    assert matches_for(provenance, OPERATOR_KEY, first) == []

    pa.client.DeleteWork(capi.DeleteWorkRequest(name=name))
    assert eventually(lambda: not matches_for(provenance, OPERATOR_KEY, second))


def test_a_vendor_learns_whether_it_holds_a_license(
    market: Market, provenance: ServiceHarness
) -> None:
    licensed_body, other_body = TEXTS.text(150), TEXTS.text(150)
    licensed = create_work(market, licensed_body, 3)
    other = create_work(market, other_body, 4)
    offer = market.offer(
        market.pa, terms(scope=lres.Scope(works=[licensed]), permitted_uses=["ai-input"])
    )
    market.license(market.va, offer)
    text = licensed_body + "\n\n" + other_body

    found = eventually(lambda: len(matches_for(provenance, market.va.account.key, text)) == 2)
    assert found
    by_work = {m.work: m for m in matches_for(provenance, market.va.account.key, text)}
    assert by_work[licensed].license_status == res.LICENSE_STATUS_LICENSED
    assert by_work[licensed].license.startswith("licenses/")
    assert by_work[other].license_status == res.LICENSE_STATUS_UNLICENSED
    assert by_work[other].license_explanation
    training = {m.work: m for m in matches_for(provenance, market.va.account.key, text, "ai-train")}
    assert training[licensed].license_status == res.LICENSE_STATUS_UNLICENSED


def test_bad_input_is_invalid_argument_and_stats_are_for_the_operator(
    market: Market, provenance: ServiceHarness
) -> None:
    vendor = client(provenance, market.va.account.key)
    for request, reason in (
        (api.CheckTextRequest(text="   "), "INVALID_FIELDS"),
        (api.CheckTextRequest(text="x" * 200_001), "TEXT_TOO_LONG"),
        (api.CheckTextRequest(text="fine", use="ai-everything"), "INVALID_FIELDS"),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            vendor.CheckText(request)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(raised.value) == reason

    # Invalid UTF-8 in the text field.
    error = send_invalid_utf8(
        provenance.channel,
        "/licentia.provenance.v1.ProvenanceService/CheckText",
        market.va.account.key,
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(error) == "UNDECODABLE_REQUEST"

    with pytest.raises(grpc.RpcError) as raised:
        vendor.GetIndexStats(api.GetIndexStatsRequest())
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as raised:
        client(provenance, None).CheckText(api.CheckTextRequest(text="anything"))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_check_texts_streams_one_answer_per_text_in_order(
    market: Market, provenance: ServiceHarness
) -> None:
    body = TEXTS.text(120)
    name = create_work(market, body, 5)
    assert eventually(lambda: matches_for(provenance, OPERATOR_KEY, body))
    requests = [
        api.CheckTextsRequest(text=TEXTS.text(60), client_ref="unrelated"),
        api.CheckTextsRequest(text="", client_ref="empty"),
        api.CheckTextsRequest(text="a\x00b", client_ref="nul"),
        api.CheckTextsRequest(text=body, client_ref="copy"),
    ]
    responses = list(client(provenance, market.vb.account.key).CheckTexts(iter(requests)))

    assert [r.client_ref for r in responses] == ["unrelated", "empty", "nul", "copy"]
    assert list(responses[0].matches) == []
    assert (responses[1].error.code, responses[1].error.reason) == (
        "INVALID_ARGUMENT",
        "INVALID_FIELDS",
    )
    assert (responses[2].error.code, responses[2].error.reason) == (
        "INVALID_ARGUMENT",
        "NUL_IN_TEXT",
    )
    assert [m.work for m in responses[3].matches] == [name]
    assert responses[3].matches[0].license_status == res.LICENSE_STATUS_UNLICENSED


def test_a_restarted_replica_loads_the_same_index(
    market: Market, provenance: ServiceHarness
) -> None:
    bodies = [TEXTS.text(150) for _ in range(6)]
    names = [create_work(market, body, 10 + i) for i, body in enumerate(bodies)]
    market.pa.account.client.DeleteWork(capi.DeleteWorkRequest(name=names[0]))
    operator = client(provenance, OPERATOR_KEY)
    live = len(names) - 1

    def caught_up() -> bool:
        return not matches_for(provenance, OPERATOR_KEY, bodies[0]) and all(
            matches_for(provenance, OPERATOR_KEY, b) for b in bodies[1:]
        )

    assert eventually(caught_up)
    seen: list[res.IndexStats] = []

    def stats_caught_up() -> bool:
        # A change is checkable as soon as it reaches the index; the feed position is
        # saved just after, so the stats may trail the index by one poll.
        seen.append(operator.GetIndexStats(api.GetIndexStatsRequest()))
        return seen[-1].catalog_last_sequence == seen[-1].last_event_sequence

    assert eventually(stats_caught_up)
    # Caught up: nothing behind the catalog's feed, which the replica knows the end of.
    before = seen[-1]
    assert before.works >= live and before.last_event_sequence > 0
    assert (before.works_behind, before.seconds_behind) == (0, 0)

    replica = start_provenance(market)  # a second replica: loads from the database
    try:
        loaded = client(replica, OPERATOR_KEY).GetIndexStats(api.GetIndexStatsRequest())
        assert loaded.works >= live and loaded.last_event_sequence >= before.last_event_sequence

        def same_index() -> bool:
            # Both replicas at the same feed position hold the same index (the catalog
            # may still publish events of its own meanwhile: compare at one position).
            ours = operator.GetIndexStats(api.GetIndexStatsRequest())
            theirs = client(replica, OPERATOR_KEY).GetIndexStats(api.GetIndexStatsRequest())
            return ours.last_event_sequence == theirs.last_event_sequence and (
                ours.works,
                ours.fingerprints,
            ) == (theirs.works, theirs.fingerprints)

        assert eventually(same_index)
        for body in bodies:
            assert [m.work for m in matches_for(replica, OPERATOR_KEY, body)] == [
                m.work for m in matches_for(provenance, OPERATOR_KEY, body)
            ]
    finally:
        stop(replica)


def test_licensed_matches_are_recorded_as_attribution_usage_once(
    market: Market, provenance: ServiceHarness
) -> None:
    body = TEXTS.text(300)
    name = create_work(market, body, 40)
    other = create_work(market, TEXTS.text(300), 41)
    offer = market.offer(market.pa, terms(scope=lres.Scope(works=[name])))
    lic = market.license(market.va, offer)
    answer = " ".join(body.split()[10:70]) + " " + TEXTS.text(5)
    metering = start_metering(market)
    try:
        vendor = client(provenance, market.va.account.key)
        eventually(lambda: matches_for(provenance, market.va.account.key, answer))
        request = api.CheckTextRequest(text=answer, record_usage=True, request_id="answer-1")
        first = vendor.CheckText(request).matches
        again = vendor.CheckText(request).matches  # a retry records nothing twice
        [match] = [m for m in first if m.work == name]
        assert match.license == lic.name and match.usage_event.startswith("licentia:attribution:")
        assert [m.usage_event for m in again if m.work == name] == [match.usage_event]
        meter = Client(metering.channel, market.va.account.key, mapi_grpc.MeteringServiceStub)
        rows = meter.GetUsageSummary(
            mapi.GetUsageSummaryRequest(
                start_time=timestamp(
                    datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                    - timedelta(hours=1)
                ),
                end_time=timestamp(
                    datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                    + timedelta(hours=2)
                ),
                group_by=[mres.DIMENSION_WORK],
            )
        ).rows
        assert [(r.work, r.unit, r.quantity) for r in rows] == [(name, mres.UNIT_ATTRIBUTION, 1)]
        assert other not in {m.work for m in first}
    finally:
        stop(metering)
    with pytest.raises(grpc.RpcError) as missing_id:
        vendor.CheckText(api.CheckTextRequest(text=answer, record_usage=True))
    assert error_reason(missing_id.value) == "INVALID_FIELDS"
    with pytest.raises(grpc.RpcError) as publisher:
        client(provenance, market.pa.account.key).CheckText(
            api.CheckTextRequest(text=answer, record_usage=True, request_id="x")
        )
    assert publisher.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as down:  # metering stopped: retry later, nothing lost
        vendor.CheckText(api.CheckTextRequest(text=answer, record_usage=True, request_id="a-2"))
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE


def test_license_answers_are_kept_until_a_license_changes(market: Market) -> None:
    """Provenance's view of licensing, against the real licensing server: a vendor's
    repeated checks of the same works ask licensing nothing; a suspension reaches the
    view through the license feed and the next check asks again."""
    settings = market.catalog.settings.with_ports(licensing=market.licensing.server.port)
    channels = ServiceChannels(settings, TracerProvider())
    view = LicensingPermissions(channels.channel("licensing"), refresh_seconds=0.05)
    try:
        work = create_work(market, TEXTS.text(120), 30)
        offer = market.offer(
            market.pa, terms(scope=lres.Scope(works=[work]), permitted_uses=["ai-input"])
        )
        granted = market.license(market.va, offer)
        view.follow()
        vendor = market.va.name

        first = view.answers(vendor, [work], "ai-input")
        assert first[work].allowed is True and first[work].license == granted.name
        for _ in range(5):
            assert view.answers(vendor, [work], "ai-input") == first
        assert view.calls == 1

        market.pa.lic.SuspendLicense(lapi.SuspendLicenseRequest(name=granted.name, reason="unpaid"))
        assert eventually(lambda: view.follow() > 0)
        suspended = view.answers(vendor, [work], "ai-input")[work]
        assert suspended.allowed is False and "suspend" in suspended.explanation.lower()
        assert view.calls == 2
    finally:
        channels.close()


def test_an_answer_for_every_work_of_a_publisher_is_kept_for_its_other_works(
    market: Market,
) -> None:
    """A license over a publisher's whole catalogue: the first answer says it holds for
    every work, so works never checked before need no call; a license narrowed to one
    work makes licensing answer per work again."""
    settings = market.catalog.settings.with_ports(licensing=market.licensing.server.port)
    channels = ServiceChannels(settings, TracerProvider())
    view = LicensingPermissions(channels.channel("licensing"), refresh_seconds=0.05)
    try:
        works = [create_work(market, TEXTS.text(120), 40 + n) for n in range(4)]
        vendor = market.va.name
        nothing = view.answers(vendor, works[:1], "ai-input")[works[0]]
        assert nothing.allowed is False and view.calls == 1
        assert view.answers(vendor, works[1:2], "ai-input")[works[1]] == nothing
        assert view.calls == 1  # no license from this publisher: the same for every work

        granted = market.license(market.va, market.offer(market.pa, terms()))
        assert eventually(lambda: view.follow() > 0)
        first = view.answers(vendor, works[:1], "ai-input")[works[0]]
        assert first.allowed is True and first.license == granted.name
        assert view.calls == 2
        rest = view.answers(vendor, works[1:], "ai-input")
        assert all(a == first for a in rest.values()) and len(rest) == 3
        assert view.calls == 2
        assert view.answers(vendor, works[1:], "ai-train")[works[1]].allowed is False
        assert view.calls == 3  # another use is another question

        market.pa.lic.RevokeLicense(lapi.RevokeLicenseRequest(name=granted.name, reason="x"))
        narrow = market.offer(
            market.pa, terms(scope=lres.Scope(works=[works[0]]), permitted_uses=["ai-input"])
        )
        market.license(market.va, narrow)
        assert eventually(lambda: view.follow() > 0)
        assert view.answers(vendor, works[:1], "ai-input")[works[0]].allowed is True
        calls = view.calls
        assert view.answers(vendor, works[1:2], "ai-input")[works[1]].allowed is False
        assert view.calls == calls + 1  # narrowed: asked about each work
    finally:
        channels.close()
