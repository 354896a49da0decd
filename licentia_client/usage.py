"""Usage reporting without losing or double-counting events: events are buffered and
sent in batches from a background thread. A batch that gets no answer (metering down,
a deadline) is sent again unchanged, and events metering could not judge yet
(LICENSING_UNAVAILABLE) are sent again later: every event keeps its id, so metering
counts each once however often it arrives. Every event's result is kept."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType
from typing import Self

import grpc
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from licentia.metering.v1 import resources_pb2 as res

log = logging.getLogger("licentia.client.usage")
_RETRIED_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)


class UsageBatcher:
    def __init__(
        self,
        metering: api_grpc.MeteringServiceStub,
        batch_size: int = 1_000,
        flush_seconds: float = 1.0,
        on_result: Callable[[res.UsageEvent, res.EventResult], None] | None = None,
        max_backoff_seconds: float = 10.0,
    ) -> None:
        if not 1 <= batch_size <= 5_000:
            raise ValueError("batch_size must be 1..5,000 (metering's limit)")
        self._stub = metering
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._on_result = on_result
        self._max_backoff = max_backoff_seconds
        self._queue: deque[res.UsageEvent] = deque()
        self._in_flight = 0
        self._lock = threading.Condition()
        self._closing = False
        self.results: dict[str, res.EventResult] = {}
        self.counts: Counter[str] = Counter()
        # Whole batches metering refused (bad key, wrong party, a malformed batch): the
        # call's status and message, and how many events it carried. Their events are
        # also in `results`, REJECTED with that message.
        self.refusals: Counter[tuple[str, str]] = Counter()
        self.batches_sent = 0
        self._thread = threading.Thread(target=self._run, name="usage-batcher", daemon=True)
        self._thread.start()

    def add(self, event: res.UsageEvent) -> None:
        with self._lock:
            if self._closing:
                raise RuntimeError("the batcher is closed")
            self._queue.append(event)
            if len(self._queue) >= self._batch_size:
                self._lock.notify_all()

    def flush(self, timeout_seconds: float | None = None) -> bool:
        """Wait until every event added so far has its result; False on timeout."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        with self._lock:
            self._lock.notify_all()
            while self._queue or self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left if left is not None else 0.1)
        return True

    def close(self, timeout_seconds: float | None = None) -> bool:
        done = self.flush(timeout_seconds)
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(5)
        return done

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._lock.wait(self._flush_seconds)
                if self._closing and not self._queue:
                    return
                size = min(len(self._queue), self._batch_size)
                batch = [self._queue.popleft() for _ in range(size)]
                self._in_flight = len(batch)
            if batch:
                self._send(batch)
            with self._lock:
                self._in_flight = 0
                self._lock.notify_all()

    def _send(self, batch: list[res.UsageEvent]) -> None:
        backoff = 0.2
        while True:
            try:
                response = self._stub.RecordUsage(api.RecordUsageRequest(events=batch), timeout=30)
                break
            except grpc.RpcError as error:
                if error.code() not in _RETRIED_CODES:  # a bad batch: report, do not loop
                    # Reported to the caller (refusals, results): no louder than info here.
                    log.info("usage batch refused: %s %s", error.code(), error.details())
                    self.refusals[error.code().name, error.details() or ""] += len(batch)
                    for event in batch:
                        failed = res.EventResult(
                            id=event.id,
                            status=res.EventResult.STATUS_REJECTED,
                            message=f"{error.code().name}: {error.details()}",
                        )
                        self._record(event, failed)
                    return
                log.warning("usage batch not answered (%s); sending it again", error.code())
                time.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        self.batches_sent += 1
        later = []
        for event, result in zip(batch, response.results, strict=True):
            if result.reason == res.EventResult.REASON_LICENSING_UNAVAILABLE:
                later.append(event)
            else:
                self._record(event, result)
        if later:
            time.sleep(backoff)
            with self._lock:
                self._queue.extendleft(reversed(later))

    def _record(self, event: res.UsageEvent, result: res.EventResult) -> None:
        self.results[event.id] = result
        self.counts[res.EventResult.Status.Name(result.status).removeprefix("STATUS_")] += 1
        if self._on_result is not None:
            self._on_result(event, result)
