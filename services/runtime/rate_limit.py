"""Per-caller token buckets, so one noisy caller cannot starve the others."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from services.runtime.errors import ResourceExhausted


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_second: float, burst: int) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> None:
        """Take one token for `caller` or raise ResourceExhausted with the wait needed."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self._rate
        raise ResourceExhausted(
            "RATE_LIMITED",
            f"too many calls from {caller}; retry in {wait:.3f}s",
            retry_after_seconds=wait,
        )
