"""Metering through the real gRPC servers (catalog, licensing, metering), SQLite and
PostgreSQL: an answer per event, exactly-once counting, license checks, summaries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.licensing.v1 import licensing_service_pb2 as lapi
from licentia.licensing.v1 import resources_pb2 as lres
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

from tests.api.market import Market, start_metering, terms
from tests.conftest import OPERATOR_KEY, Client, ServiceHarness, error_reason, field_violations

Status = res.EventResult.Status
Reason = res.EventResult.Reason
NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = NOW.replace(minute=0, second=0)


@pytest.fixture
def metering(market: Market) -> Iterator[ServiceHarness]:
    harness = start_metering(market)
    yield harness
    harness.channel.close()
    harness.server.stop(0)


def client(harness: ServiceHarness, key: str) -> Client:
    return Client(harness.channel, key, api_grpc.MeteringServiceStub)


def ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def event(event_id: str, license_name: str, work: str, **overrides: object) -> res.UsageEvent:
    fields: dict[str, object] = dict(
        id=event_id,
        license=license_name,
        work=work,
        use="ai-input",
        unit=res.UNIT_TOKENS,
        quantity=1_000,
        occur_time=ts(datetime.now(UTC).replace(microsecond=0)),
        source="answers-eu-1",
        attributes={"model": "m-1"},
    )
    fields.update(overrides)
    return res.UsageEvent(**fields)  # type: ignore[arg-type]


def record(harness: ServiceHarness, key: str, *events: res.UsageEvent) -> list[res.EventResult]:
    response = client(harness, key).RecordUsage(api.RecordUsageRequest(events=list(events)))
    return list(response.results)


def statuses(results: list[res.EventResult]) -> list[tuple[str, int, int]]:
    return [(r.id, r.status, r.reason) for r in results]


def licensed(market: Market) -> tuple[str, str]:
    """Vendor A's license for ai-input on publisher A's works; returns (license, work)."""
    offer = market.offer(market.pa, terms(scope=lres.Scope(works=market.works_a[:2])))
    return market.license(market.va, offer).name, market.works_a[0]


def summary(harness: ServiceHarness, key: str, **kw: object) -> list[res.UsageRow]:
    request = api.GetUsageSummaryRequest(
        start_time=ts(HOUR - timedelta(days=2)), end_time=ts(HOUR + timedelta(days=1)), **kw
    )
    return list(client(harness, key).GetUsageSummary(request).rows)


def test_every_event_gets_an_answer_and_counts_once(
    market: Market, metering: ServiceHarness
) -> None:
    lic, work = licensed(market)
    key = market.va.account.key
    # One instant for the events that are sent again: a resend is the same payload only
    # with the same time (a fresh now() could cross a second and make it a CONFLICT).
    at = ts(datetime.now(UTC).replace(microsecond=0))
    first = record(
        metering,
        key,
        event("e1", lic, work, occur_time=at),
        event("e2", lic, work, quantity=500, occur_time=at),
        event("e1", lic, work, occur_time=at),  # repeated in the batch, same payload
        event("e2", lic, work, quantity=7, occur_time=at),  # repeated, different payload
        event("e3", lic, work, quantity=0),
        event("e4", lic, market.works_a[3]),  # outside the license's scope
        event("e5", lic, work, use="ai-train"),
        event("e6", "licenses/nope", work),
        event("e7", lic, work, occur_time=ts(NOW + timedelta(hours=1))),
        event("e8", lic, work, occur_time=ts(NOW - timedelta(days=40))),
        event("", lic, work),
    )
    assert statuses(first) == [
        ("e1", Status.STATUS_ACCEPTED, 0),
        ("e2", Status.STATUS_ACCEPTED, 0),
        ("e1", Status.STATUS_DUPLICATE, 0),
        ("e2", Status.STATUS_CONFLICT, 0),
        ("e3", Status.STATUS_REJECTED, Reason.REASON_BAD_QUANTITY),
        ("e4", Status.STATUS_REJECTED, Reason.REASON_WORK_OUT_OF_SCOPE),
        ("e5", Status.STATUS_REJECTED, Reason.REASON_USE_NOT_PERMITTED),
        ("e6", Status.STATUS_REJECTED, Reason.REASON_NO_SUCH_LICENSE),
        ("e7", Status.STATUS_REJECTED, Reason.REASON_TOO_FAR_IN_FUTURE),
        ("e8", Status.STATUS_REJECTED, Reason.REASON_TOO_OLD),
        ("", Status.STATUS_REJECTED, Reason.REASON_INVALID_EVENT),
    ]
    again = record(
        metering,
        key,
        event("e1", lic, work, occur_time=at),
        event("e2", lic, work, quantity=9, occur_time=at),
    )
    assert statuses(again) == [
        ("e1", Status.STATUS_DUPLICATE, 0),
        ("e2", Status.STATUS_CONFLICT, 0),
    ]
    (row,) = summary(metering, key, group_by=[res.DIMENSION_LICENSE, res.DIMENSION_WORK])
    assert (row.license, row.work, row.unit, row.quantity, row.events) == (
        lic,
        work,
        res.UNIT_TOKENS,
        1_500,
        2,
    )


def test_values_the_database_cannot_store_are_rejected_alone(
    market: Market, metering: ServiceHarness
) -> None:
    """A NUL character is valid protobuf text but PostgreSQL text cannot hold it, and a
    timestamp can lie beyond any datetime: such an event is rejected with a reason, and
    the rest of its batch is counted."""
    lic, work = licensed(market)
    key = market.va.account.key
    results = record(
        metering,
        key,
        event("nul\x00id", lic, work),
        event("n1", lic, work, source="a\x00b"),
        event("n2", lic, work, attributes={"model": "m\x00"}),
        event("n3", lic, work),
        event("far", lic, work, occur_time=Timestamp(seconds=10**13)),
        event("early", lic, work, occur_time=Timestamp(seconds=-(10**13))),
        event("long", lic, work, correction=res.CORRECTION_VOID, corrects="c" * 129),
        event("name", "licenses/" + "l" * 300, work),
    )
    assert statuses(results) == [
        ("nul\x00id", Status.STATUS_REJECTED, Reason.REASON_INVALID_EVENT),
        ("n1", Status.STATUS_REJECTED, Reason.REASON_INVALID_EVENT),
        ("n2", Status.STATUS_REJECTED, Reason.REASON_INVALID_EVENT),
        ("n3", Status.STATUS_ACCEPTED, 0),
        ("far", Status.STATUS_REJECTED, Reason.REASON_TOO_FAR_IN_FUTURE),
        ("early", Status.STATUS_REJECTED, Reason.REASON_TOO_OLD),
        ("long", Status.STATUS_REJECTED, Reason.REASON_INVALID_EVENT),
        ("name", Status.STATUS_REJECTED, Reason.REASON_INVALID_EVENT),
    ]
    assert "corrects: at most 128 characters" in results[6].message
    assert "NUL" in results[0].message
    (row,) = summary(metering, key)
    assert (row.quantity, row.events) == (1_000, 1)


def test_usage_counts_under_whichever_of_the_vendors_licenses_it_names(
    market: Market, metering: ServiceHarness
) -> None:
    """Two licenses from one publisher for the same work and use: each counts what is
    reported under it (one was refused NO_SUCH_LICENSE); a license of another vendor or
    one that does not cover the use is still refused."""
    first, work = licensed(market)
    offer = market.offer(market.pa, terms(scope=lres.Scope(works=market.works_a[:1])))
    second = market.license(market.va, offer).name
    other_vendors = market.license(market.vb, offer).name
    key = market.va.account.key
    results = record(
        metering,
        key,
        *[event(f"a{i}", first, work, quantity=10) for i in range(20)],
        *[event(f"b{i}", second, work, quantity=1) for i in range(20)],
        event("c", other_vendors, work),
        event("d", second, market.works_a[1]),  # outside the second license's scope
    )
    assert [r.status for r in results[:40]] == [Status.STATUS_ACCEPTED] * 40
    assert [(r.status, r.reason) for r in results[40:]] == [
        (Status.STATUS_REJECTED, Reason.REASON_NO_SUCH_LICENSE),
        (Status.STATUS_REJECTED, Reason.REASON_WORK_OUT_OF_SCOPE),
    ]
    rows = summary(metering, key, group_by=[res.DIMENSION_LICENSE])
    assert sorted((r.license, r.quantity, r.events) for r in rows) == sorted(
        [(first, 200, 20), (second, 20, 20)]
    )


def test_the_same_id_from_another_vendor_is_another_event(
    market: Market, metering: ServiceHarness
) -> None:
    lic, work = licensed(market)
    offer_b = market.offer(market.pa, terms())
    lic_b = market.license(market.vb, offer_b).name
    assert statuses(record(metering, market.va.account.key, event("same", lic, work))) == [
        ("same", Status.STATUS_ACCEPTED, 0)
    ]
    assert statuses(record(metering, market.vb.account.key, event("same", lic_b, work))) == [
        ("same", Status.STATUS_ACCEPTED, 0)
    ]
    # A vendor cannot report under another vendor's license.
    assert statuses(record(metering, market.vb.account.key, event("x", lic, work))) == [
        ("x", Status.STATUS_REJECTED, Reason.REASON_NO_SUCH_LICENSE)
    ]


def test_a_suspended_license_stops_new_usage_but_retries_stay_successes(
    market: Market, metering: ServiceHarness
) -> None:
    lic, work = licensed(market)
    key = market.va.account.key
    before = event("before", lic, work)
    record(metering, key, before)
    market.pa.lic.SuspendLicense(lapi.SuspendLicenseRequest(name=lic))
    deadline = time.monotonic() + 10
    while True:
        (result,) = record(metering, key, event(f"after-{time.monotonic()}", lic, work))
        if result.reason == Reason.REASON_LICENSE_NOT_ACTIVE or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert result.status == Status.STATUS_REJECTED
    assert result.reason == Reason.REASON_LICENSE_NOT_ACTIVE
    assert statuses(record(metering, key, before)) == [("before", Status.STATUS_DUPLICATE, 0)]


def test_summaries_are_scoped_to_the_caller(market: Market, metering: ServiceHarness) -> None:
    lic, work = licensed(market)
    record(metering, market.va.account.key, event("s1", lic, work, quantity=40))
    by_vendor = [res.DIMENSION_VENDOR, res.DIMENSION_PUBLISHER]
    publisher_rows = summary(metering, market.pa.account.key, group_by=by_vendor)
    assert [(r.vendor, r.publisher, r.quantity) for r in publisher_rows] == [
        (market.va.name, market.pa.name, 40)
    ]
    assert summary(metering, market.pb.account.key) == []
    assert summary(metering, market.vb.account.key) == []
    hourly = summary(metering, OPERATOR_KEY, granularity=res.GRANULARITY_HOUR)
    assert [r.quantity for r in hourly] == [40] and hourly[0].bucket_start.seconds > 0
    with pytest.raises(grpc.RpcError) as raised:
        summary(metering, market.vb.account.key, vendor=market.va.name)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as raised:
        client(metering, OPERATOR_KEY).GetUsageSummary(api.GetUsageSummaryRequest())
    assert error_reason(raised.value) == "INVALID_FIELDS"
    # A bound inside an hour would count all of that hour or none of it: refused.
    with pytest.raises(grpc.RpcError) as raised:
        client(metering, OPERATOR_KEY).GetUsageSummary(
            api.GetUsageSummaryRequest(
                start_time=ts(HOUR + timedelta(minutes=1)),
                end_time=ts(HOUR + timedelta(minutes=59)),
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == ["start_time", "end_time"]


def test_streamed_batches_and_export(market: Market, metering: ServiceHarness) -> None:
    lic, work = licensed(market)
    key = market.va.account.key
    batches = [
        api.StreamUsageRequest(
            batch_id=f"b{b}", events=[event(f"s{b}-{i}", lic, work) for i in range(50)]
        )
        for b in range(4)
    ]
    batches.append(batches[1])  # a batch sent again after a lost answer
    responses = list(client(metering, key).StreamUsage(iter(batches)))
    assert [r.batch_id for r in responses] == ["b0", "b1", "b2", "b3", "b1"]
    assert {r.status for r in responses[0].results} == {Status.STATUS_ACCEPTED}
    assert {r.status for r in responses[4].results} == {Status.STATUS_DUPLICATE}

    exported = client(metering, key).ExportUsageEvents(
        api.ExportUsageEventsRequest(
            license=lic,
            start_time=ts(NOW - timedelta(days=1)),
            end_time=ts(NOW + timedelta(days=1)),
        )
    )
    events = [e for page in exported for e in page.events]
    assert len(events) == 200 and {e.vendor for e in events} == {market.va.name}
    assert events[0].event.attributes["model"] == "m-1"


def test_only_vendors_report_usage(market: Market, metering: ServiceHarness) -> None:
    lic, work = licensed(market)
    with pytest.raises(grpc.RpcError) as raised:
        record(metering, market.pa.account.key, event("p", lic, work))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as raised:
        record(metering, market.va.account.key, *[event(f"m{i}", lic, work) for i in range(5_001)])
    assert error_reason(raised.value) == "TOO_MANY_EVENTS"


def test_a_stream_whose_caller_goes_away_is_not_an_error(
    market: Market, metering: ServiceHarness, caplog: pytest.LogCaptureFixture
) -> None:
    lic, work = licensed(market)
    release = threading.Event()

    def batches() -> Iterator[api.StreamUsageRequest]:
        yield api.StreamUsageRequest(batch_id="1", events=[event("s1", lic, work)])
        release.wait(5)  # the caller goes away before sending more

    stub = api_grpc.MeteringServiceStub(metering.channel)
    call = stub.StreamUsage(
        batches(), metadata=[("authorization", f"Bearer {market.va.account.key}")], timeout=1
    )
    assert next(call).batch_id == "1"
    with pytest.raises(grpc.RpcError):
        next(call)  # the deadline passes while the server waits for the next batch
    release.set()
    time.sleep(0.5)
    assert not [r for r in caplog.records if r.name == "licentia.errors" and r.levelname == "ERROR"]
