"""Licensing's permission decisions, cached locally: one call per batch for what the
cache lacks, none for what it holds.

An event is judged as if at the last instant of its second: at a license's start or end,
an event within the same second is judged as if at the second's end (a resolution of one
second, so that an event stamped to the second, as many systems do, in the second a
license starts is counted).

Licensing states the span of time over which each decision holds (no license of the
vendor from that publisher starts or ends within it), so one decision per vendor, work
and use serves every event time in its span: a vendor's steady stream of usage asks
licensing about each work once, not once per instant.

Every license change empties the cache for that vendor and publisher: the replica follows
licensing's license event feed, polled every `refresh_seconds`, the documented bound on
how long a suspension or revocation can go unseen here. A decision is also kept at most
`max_age_seconds`, since it depends on the work's metadata (section, tags) too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.metering.domain.decisions import Decision
from services.runtime.errors import Unavailable
from services.runtime.license_feed import LicenseFeed
from services.runtime.pricing import METERED_UNITS, MeteredPrice
from services.runtime.proto_time import timestamp

log = logging.getLogger(__name__)
MAX_ENTRIES = 500_000
BATCH_CHECKS = 1_000  # BatchCheckPermissions' limit

Query = tuple[str, str, datetime, str]  # work, use, time, license ("": any)
Asked = tuple[str, str, str]  # work, use, license


@dataclass(frozen=True, slots=True)
class _Span:
    """A decision and the event times it holds for: [since, until), None unbounded.

    Licensing's span, widened to whole seconds: the event judged at the end of its
    second falls in [S, U) exactly when the event itself falls in [floor(S), floor(U)),
    floor() to the second (no end of second to compute per event).
    """

    since: datetime | None
    until: datetime | None
    expires: float  # time.monotonic()
    decision: Decision

    def covers(self, at: datetime) -> bool:
        return (self.since is None or self.since <= at) and (self.until is None or at < self.until)


class LicensingDecisions:
    def __init__(
        self,
        channel: grpc.Channel,
        refresh_seconds: float,
        max_age_seconds: float = 60.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._stub = api_grpc.LicensingServiceStub(channel)
        self._max_age = max_age_seconds
        self._timeout = timeout_seconds
        # (vendor, publisher) -> (work, use, license) -> the spans known for them.
        self._cache: dict[tuple[str, str], dict[Asked, list[_Span]]] = {}
        self._size = 0
        # Counts invalidations: answers asked for before one are used, not cached.
        self._generation = 0
        self._lock = threading.Lock()
        self._feed = LicenseFeed(
            self._stub, "license-decisions", self._invalidate, refresh_seconds, self._timeout
        )

    def start(self) -> None:
        self._feed.start()

    def stop(self) -> None:
        self._feed.stop()

    def decide(self, vendor: str, queries: Sequence[Query]) -> list[Decision]:
        found: list[Decision | None] = [None] * len(queries)
        pending = self._from_cache(vendor, queries, found)
        while pending:
            # One time per work and use a round: its answer's span usually covers the
            # batch's other times; a time outside it (a license starts or ends within
            # the batch) is asked in the next round.
            asked: dict[Asked, datetime] = {}
            for i in pending:
                work, use, at, license_name = queries[i]
                asked.setdefault((work, use, license_name), at)
            fresh = self._ask(vendor, [(w, u, at, n) for (w, u, n), at in asked.items()])
            pending = _covered_by(fresh, asked, queries, pending, found)
        return [_answered(d) for d in found]

    def _from_cache(
        self, vendor: str, queries: Sequence[Query], found: list[Decision | None]
    ) -> list[int]:
        """Fills `found` from the cache; returns the indexes of the queries it lacks."""
        now = time.monotonic()
        missing = []
        with self._lock:
            for i, (work, use, at, license_name) in enumerate(queries):
                spans = self._cache.get((vendor, _publisher(work)), {}).get(
                    (work, use, license_name), ()
                )
                for span in spans:
                    if now < span.expires and span.covers(at):
                        found[i] = span.decision
                        break
                else:
                    missing.append(i)
        return missing

    def _ask(self, vendor: str, queries: list[Query]) -> dict[Asked, _Span]:
        with self._lock:
            generation = self._generation
        asked_at = time.monotonic()
        expires = asked_at + self._max_age
        answers: dict[Asked, _Span] = {}
        for start in range(0, len(queries), BATCH_CHECKS):
            chunk = queries[start : start + BATCH_CHECKS]
            request = api.BatchCheckPermissionsRequest(
                requests=[
                    api.CheckPermissionRequest(
                        vendor=vendor,
                        work=w,
                        use=u,
                        time=timestamp(_end_of_second(at)),
                        license=n,
                    )
                    for w, u, at, n in chunk
                ]
            )
            try:
                response = self._stub.BatchCheckPermissions(request, timeout=self._timeout)
            except grpc.RpcError as error:
                log.warning("licensing did not answer: %s", error.code())
                raise Unavailable(
                    "LICENSING_UNAVAILABLE", "licensing did not answer; send the events again"
                ) from error
            for (work, use, _at, n), r in zip(chunk, response.responses, strict=True):
                answers[work, use, n] = _span(r, expires)
        with self._lock:
            if generation != self._generation:
                return answers  # a license changed meanwhile: good for this batch only
            if self._size > MAX_ENTRIES:  # bounded memory: start over
                self._cache.clear()
                self._size = 0
            for asked, span in answers.items():
                spans = self._cache.setdefault((vendor, _publisher(asked[0])), {}).setdefault(
                    asked, []
                )
                kept = [s for s in spans if s.expires > asked_at]  # the expired go
                self._size += len(kept) + 1 - len(spans)
                spans[:] = [*kept, span]
        return answers

    def _invalidate(self, events: Sequence[res.LicenseEvent]) -> None:
        with self._lock:
            self._generation += 1
            for event in events:
                pair = (event.vendor, event.publisher)
                dropped = self._cache.pop(pair, {})
                self._size -= sum(len(spans) for spans in dropped.values())


def _covered_by(
    fresh: dict[Asked, _Span],
    asked: dict[Asked, datetime],
    queries: Sequence[Query],
    pending: list[int],
    found: list[Decision | None],
) -> list[int]:
    """Answers the pending queries the fresh spans cover (the time asked always: each
    round answers at least that); returns the others."""
    still = []
    for i in pending:
        work, use, at, license_name = queries[i]
        key = (work, use, license_name)
        span = fresh[key]
        if at == asked[key] or span.covers(at):
            found[i] = span.decision
        else:
            still.append(i)
    return still


def _end_of_second(at: datetime) -> datetime:
    return at.replace(microsecond=999_999)


def _answered(decision: Decision | None) -> Decision:
    assert decision is not None, "every query is answered before decide returns"
    return decision


def _span(r: api.CheckPermissionResponse, expires: float) -> _Span:
    denial = api.CheckPermissionResponse.Denial.Name(r.denial).removeprefix("DENIAL_")
    decision = Decision(
        r.allowed,
        r.license,
        "" if r.allowed else denial,
        r.explanation,
        _capped(r.price) if r.allowed else None,
    )
    since = _second_of(r.valid_from) if r.HasField("valid_from") else None
    until = _second_of(r.valid_until) if r.HasField("valid_until") else None
    return _Span(since, until, expires, decision)


def _second_of(stamp: Timestamp) -> datetime:
    return datetime.fromtimestamp(stamp.seconds, UTC)


def _capped(price: res.Price) -> MeteredPrice | None:
    model = res.Price.Model.Name(price.model).removeprefix("MODEL_")
    if not price.period_cap_micros or model not in METERED_UNITS:
        return None
    return MeteredPrice(
        model,
        price.amount_micros,
        tuple((t.from_quantity, t.amount_micros) for t in price.tiers),
        price.period_cap_micros,
    )


def _publisher(work: str) -> str:
    return work.split("/works/")[0]
