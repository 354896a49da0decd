"""Following licensing's license event feed (grants, suspensions, resumptions,
revocations) from another service, to drop what it keeps of licensing's answers.

Polled every `refresh_seconds`: the documented bound on how long a change can go unseen
by the follower. The position is kept in memory: a restarted follower starts from the
beginning, which only drops caches that are empty anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.runtime.event_relay import EventRelay, MemoryCursor


class LicenseFeed:
    def __init__(
        self,
        stub: api_grpc.LicensingServiceStub,
        name: str,
        on_changes: Callable[[Sequence[res.LicenseEvent]], None],
        refresh_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self._stub = stub
        self._timeout = timeout_seconds
        self._relay = EventRelay(
            name,
            self._events,
            on_changes,
            lambda e: e.sequence,
            MemoryCursor(),
            idle_seconds=refresh_seconds,
        )

    def start(self) -> None:
        self._relay.start()

    def stop(self) -> None:
        self._relay.stop()

    def follow(self) -> int:
        """Apply the changes the feed holds now (tests, tools); returns how many."""
        total = 0
        while applied := self._relay.run_once():
            total += applied
        return total

    def _events(self, after: int, limit: int) -> list[res.LicenseEvent]:
        response = self._stub.ListLicenseEvents(
            api.ListLicenseEventsRequest(after_sequence=after, page_size=limit),
            timeout=self._timeout,
        )
        return list(response.events)
