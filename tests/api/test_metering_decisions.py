"""Metering's cache of licensing's decisions, against the real licensing server: one
decision serves every event time in the span licensing states, and a license starting or
ending inside a batch still judges each event by its own time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.metering.adapters.licensing_decisions import LicensingDecisions
from tests.api.market import Market, terms
from tests.conftest import SERVICE_TOKEN


class CountingServiceCalls(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Presents the service token, as metering does, and counts the calls made."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        self.calls.append(details.method.rsplit("/", 1)[-1])
        metadata = [*(details.metadata or []), ("authorization", f"Bearer {SERVICE_TOKEN}")]
        return continuation(details._replace(metadata=metadata), request)


def ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def test_one_decision_serves_its_span_and_each_event_keeps_its_own_time(
    market: Market,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=2)
    offer = market.offer(market.pa, terms(start_time=ts(start), end_time=ts(end)))
    license_name = market.license(market.va, offer).name
    counter = CountingServiceCalls()
    channel = grpc.intercept_channel(market.licensing.channel, counter)
    decisions = LicensingDecisions(channel, refresh_seconds=60)
    work = market.works_a[0]
    # Ten times before the start, ten during the license, ten after its end.
    times = [start - timedelta(minutes=50) + timedelta(minutes=5 * i) for i in range(10)]
    times += [start + timedelta(minutes=11 * i, seconds=7) for i in range(10)]
    times += [end + timedelta(minutes=3 * i) for i in range(10)]
    # On the edges, to the microsecond (an event is judged at the end of its second).
    times += [start - timedelta(microseconds=1), start, end - timedelta(microseconds=1), end]

    answers = decisions.decide(market.va.name, [(work, "ai-input", at, "") for at in times])

    outcome = [(d.allowed, d.license, d.denial) for d in answers]
    assert outcome == (
        [(False, license_name, "NOT_STARTED")] * 10
        + [(True, license_name, "")] * 10
        + [(False, license_name, "EXPIRED")] * 10
        + [(False, license_name, "NOT_STARTED"), (True, license_name, "")]
        + [(True, license_name, ""), (False, license_name, "EXPIRED")]
    )
    # Three spans (before, during, after): one round of questions each.
    assert counter.calls == ["BatchCheckPermissions"] * 3
    counter.calls.clear()

    later = [at + timedelta(seconds=13) for at in times[:30]]
    again = decisions.decide(market.va.name, [(work, "ai-input", at, "") for at in later])
    assert [(d.allowed, d.denial) for d in again] == [(d.allowed, d.denial) for d in answers[:30]]
    assert counter.calls == []  # all from the cache

    other = decisions.decide(market.va.name, [(market.works_a[1], "ai-input", times[15], "")])
    assert other[0].allowed and counter.calls == ["BatchCheckPermissions"]
