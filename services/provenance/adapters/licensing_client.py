"""Which matched works a vendor may use: licensing's answers, kept in this replica.

A checked text asks licensing (one BatchCheckPermissions call) only about the matched
works this replica holds no current answer for. Licensing states the span of time over
which each answer holds (no license of that vendor from that publisher starts or ends
within it); the answer is kept for that span, and dropped at once when licensing's
license event feed reports a change for that vendor and publisher (a grant, suspension,
resumption or revocation; the feed is polled every `refresh_seconds`, the documented
bound on how long a change can go unseen here) or after `max_age_seconds` (an answer
also depends on the work's metadata). When licensing says an answer is the same for
every work of the publisher (the vendor's licenses from it cover all its works, or there
are none), it is kept for the publisher, and works never checked before need no call.
So a vendor checking texts that quote the same works, or works of publishers it holds
catalogue-wide licenses from, asks licensing nothing on its hot path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import grpc
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.provenance.domain.works import LicenseAnswer
from services.runtime.license_feed import LicenseFeed
from services.runtime.proto_time import from_timestamp
from services.runtime.sqltypes import utc_now

log = logging.getLogger(__name__)

UNKNOWN = LicenseAnswer(None, explanation="the licensing service did not answer")
MAX_ENTRIES = 500_000
BATCH_CHECKS = 1_000  # BatchCheckPermissions' limit
EVERY_WORK = ""  # the key of an answer kept for all of a publisher's works


@dataclass(frozen=True, slots=True)
class _Kept:
    answer: LicenseAnswer
    since: datetime | None
    until: datetime | None
    expires: float  # time.monotonic()

    def holds(self, at: datetime, now: float) -> bool:
        return (
            now < self.expires
            and (self.since is None or self.since <= at)
            and (self.until is None or at < self.until)
        )


class LicensingPermissions:
    def __init__(
        self,
        channel: grpc.Channel,
        refresh_seconds: float = 1.0,
        max_age_seconds: float = 60.0,
        timeout_seconds: float = 1.0,
    ) -> None:
        self._stub = api_grpc.LicensingServiceStub(channel)
        self._timeout = timeout_seconds
        self._max_age = max_age_seconds
        # (vendor, publisher) -> (work or EVERY_WORK, use) -> the answer kept for it.
        self._kept: dict[tuple[str, str], dict[tuple[str, str], _Kept]] = {}
        self._size = 0
        self._generation = 0  # counts invalidations: answers asked before one are not kept
        self._lock = threading.Lock()
        self.calls = 0  # BatchCheckPermissions calls made (for tests and benchmarks)
        self._feed = LicenseFeed(
            self._stub, "license-answers", self._invalidate, refresh_seconds, self._timeout
        )

    def start(self) -> None:
        self._feed.start()

    def stop(self) -> None:
        self._feed.stop()

    def follow(self) -> int:
        """Apply the license changes the feed holds now (tests, tools)."""
        return self._feed.follow()

    def answers(self, vendor: str, works: list[str], use: str) -> dict[str, LicenseAnswer]:
        if not works:
            return {}
        at, now = utc_now(), time.monotonic()
        found: dict[str, LicenseAnswer] = {}
        missing: list[str] = []
        with self._lock:
            for work in works:
                entries = self._kept.get((vendor, _publisher(work)), {})
                for key in ((work, use), (EVERY_WORK, use)):
                    kept = entries.get(key)
                    if kept is not None and kept.holds(at, now):
                        found[work] = kept.answer
                        break
                else:
                    missing.append(work)
        if missing:
            found.update(self._ask(vendor, missing, use, now))
        return found

    def _ask(self, vendor: str, works: list[str], use: str, now: float) -> dict[str, LicenseAnswer]:
        with self._lock:
            generation = self._generation
        fresh: dict[str, _Kept] = {}
        every_work: set[str] = set()
        for start in range(0, len(works), BATCH_CHECKS):
            chunk = works[start : start + BATCH_CHECKS]
            request = api.BatchCheckPermissionsRequest(
                requests=[api.CheckPermissionRequest(vendor=vendor, work=w, use=use) for w in chunk]
            )
            try:
                self.calls += 1
                response = self._stub.BatchCheckPermissions(request, timeout=self._timeout)
            except grpc.RpcError as error:
                # A slow or failing licensing service must not fail provenance checks.
                log.warning("license check failed: %s", error.code())
                return {**{w: k.answer for w, k in fresh.items()}, **{w: UNKNOWN for w in works}}
            for work, r in zip(chunk, response.responses, strict=True):
                answer = LicenseAnswer(r.allowed, r.license, "" if r.allowed else r.explanation)
                fresh[work] = _Kept(
                    answer,
                    from_timestamp(r, "valid_from"),
                    from_timestamp(r, "valid_until"),
                    now + self._max_age,
                )
                if r.same_for_every_work:
                    every_work.add(work)
        with self._lock:
            if generation == self._generation:  # no license changed meanwhile
                if self._size > MAX_ENTRIES:  # bounded memory: start over
                    self._kept.clear()
                    self._size = 0
                for work, kept in fresh.items():
                    entries = self._kept.setdefault((vendor, _publisher(work)), {})
                    key = (EVERY_WORK if work in every_work else work, use)
                    self._size += key not in entries
                    entries[key] = kept
        return {work: kept.answer for work, kept in fresh.items()}

    def _invalidate(self, events: Sequence[res.LicenseEvent]) -> None:
        with self._lock:
            self._generation += 1
            for event in events:
                self._size -= len(self._kept.pop((event.vendor, event.publisher), {}))


def _publisher(work: str) -> str:
    return work.split("/works/")[0]
