"""Licensing's permission decisions, cached locally: one call per batch for what the
cache lacks, none for what it holds.

A decision is cached per vendor, work, use and second of the event's time, and asked for
the last instant of that second: at a license's start or end, an event within the same
second is judged as if at the second's end (a resolution of one second).

Every license change empties the cache for that vendor and publisher: the replica follows
licensing's license event feed, polled every `refresh_seconds`, the documented bound on
how long a suspension or revocation can go unseen here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import grpc
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.metering.domain.decisions import Decision
from services.runtime.errors import Unavailable
from services.runtime.event_relay import EventRelay, MemoryCursor
from services.runtime.pricing import METERED_UNITS, MeteredPrice
from services.runtime.proto_time import timestamp

log = logging.getLogger(__name__)
MAX_ENTRIES = 500_000
BATCH_CHECKS = 1_000  # BatchCheckPermissions' limit

Key = tuple[str, str, int]  # work, use, second
_LAST_MICROSECOND = 0.999_999


class LicensingDecisions:
    def __init__(
        self, channel: grpc.Channel, refresh_seconds: float, timeout_seconds: float = 5.0
    ) -> None:
        self._stub = api_grpc.LicensingServiceStub(channel)
        self._timeout = timeout_seconds
        # (vendor, publisher) -> decisions for that pair.
        self._cache: dict[tuple[str, str], dict[Key, Decision]] = {}
        self._size = 0
        self._lock = threading.Lock()
        self._relay = EventRelay(
            "license-decisions",
            self._license_events,
            self._invalidate,
            lambda e: e.sequence,
            MemoryCursor(),
            idle_seconds=refresh_seconds,
        )

    def start(self) -> None:
        self._relay.start()

    def stop(self) -> None:
        self._relay.stop()

    def decide(self, vendor: str, queries: Sequence[tuple[str, str, datetime]]) -> list[Decision]:
        keys = [(work, use, int(at.timestamp())) for work, use, at in queries]
        found: dict[int, Decision] = {}
        missing: dict[Key, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                decision = self._cache.get((vendor, _publisher(key[0])), {}).get(key)
                if decision is None:
                    missing.setdefault(key, []).append(i)
                else:
                    found[i] = decision
        if missing:
            for key, decision in self._ask(vendor, list(missing)).items():
                for i in missing[key]:
                    found[i] = decision
        return [found[i] for i in range(len(keys))]

    def _ask(self, vendor: str, keys: list[Key]) -> dict[Key, Decision]:
        answers: dict[Key, Decision] = {}
        for start in range(0, len(keys), BATCH_CHECKS):
            chunk = keys[start : start + BATCH_CHECKS]
            request = api.BatchCheckPermissionsRequest(
                requests=[
                    api.CheckPermissionRequest(
                        vendor=vendor,
                        work=work,
                        use=use,
                        time=timestamp(datetime.fromtimestamp(second + _LAST_MICROSECOND, tz=UTC)),
                    )
                    for work, use, second in chunk
                ]
            )
            try:
                response = self._stub.BatchCheckPermissions(request, timeout=self._timeout)
            except grpc.RpcError as error:
                log.warning("licensing did not answer: %s", error.code())
                raise Unavailable(
                    "LICENSING_UNAVAILABLE", "licensing did not answer; send the events again"
                ) from error
            for key, r in zip(chunk, response.responses, strict=True):
                denial = api.CheckPermissionResponse.Denial.Name(r.denial).removeprefix("DENIAL_")
                answers[key] = Decision(
                    r.allowed,
                    r.license,
                    "" if r.allowed else denial,
                    r.explanation,
                    _capped(r.price) if r.allowed else None,
                )
        with self._lock:
            if self._size > MAX_ENTRIES:  # bounded memory: start over
                self._cache.clear()
                self._size = 0
            for key, decision in answers.items():
                self._cache.setdefault((vendor, _publisher(key[0])), {})[key] = decision
                self._size += 1
        return answers

    def _license_events(self, after: int, limit: int) -> list[res.LicenseEvent]:
        response = self._stub.ListLicenseEvents(
            api.ListLicenseEventsRequest(after_sequence=after, page_size=limit),
            timeout=self._timeout,
        )
        return list(response.events)

    def _invalidate(self, events: Sequence[res.LicenseEvent]) -> None:
        with self._lock:
            for event in events:
                pair = (event.vendor, event.publisher)
                self._size -= len(self._cache.pop(pair, {}))


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
