"""What licensing needs to know about works (publisher, section, tags), from the catalog.

Cached per work for `ttl` seconds: scope decisions by section or tag see a retagged work
within that bound (plus one catalog call). Unknown works are cached too (briefly), so a
flood of checks for a bad name does not become a flood of catalog calls.

An expired entry is still answered from, while one background call refreshes it: a
permission check waits for the catalog only the first time it sees a work, never
because a minute has passed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from services.licensing.domain.permissions import WorkRef
from services.runtime.errors import Unavailable

BATCH = 1_000  # BatchGetWorks' limit


class CatalogWorkDirectory:
    def __init__(self, channel: grpc.Channel, ttl_seconds: float = 60.0) -> None:
        self._stub = api_grpc.CatalogServiceStub(channel)
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, WorkRef | None]] = {}
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="work-refresh")

    def get(self, name: str) -> WorkRef | None:
        cached = self._cache.get(name)
        if cached is None:
            return self._load(name)
        if cached[0] <= time.monotonic():
            with self._lock:
                stale = name not in self._refreshing
                self._refreshing.add(name)
            if stale:
                self._refresher.submit(self._refresh, name)
        return cached[1]

    def prefetch(self, names: list[str]) -> None:
        """Learn every work among `names` not cached yet in one catalog call per 1,000
        (a batch of permission checks on works never seen waits for one round trip, not
        one per work). Works the catalog does not have are remembered as such."""
        missing = sorted({n for n in names if n not in self._cache})
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            try:
                response = self._stub.BatchGetWorks(
                    api.BatchGetWorksRequest(names=chunk, view=res.WORK_VIEW_BASIC)
                )
            except grpc.RpcError:
                return  # each check then asks on its own, and reports what fails
            found = {w.name: w for w in response.works}
            self._remember(
                time.monotonic(),
                {n: _ref(n, found[n]) if n in found else None for n in chunk},
            )

    def close(self) -> None:
        self._refresher.shutdown(wait=True, cancel_futures=True)

    def _refresh(self, name: str) -> None:
        try:
            self._load(name)
        except Unavailable:
            pass  # the stale entry stays; the next check after it asks again
        finally:
            with self._lock:
                self._refreshing.discard(name)

    def _load(self, name: str) -> WorkRef | None:
        now = time.monotonic()
        ref = self._fetch(name)
        self._remember(now, {name: ref})
        return ref

    def _remember(self, asked_at: float, refs: dict[str, WorkRef | None]) -> None:
        """Cache what the catalog said; unknown works only briefly."""
        with self._lock:
            if len(self._cache) > 200_000:  # bounded memory: start over
                self._cache.clear()
            for name, ref in refs.items():
                ttl = self._ttl if ref else min(self._ttl, 5.0)
                self._cache[name] = (asked_at + ttl, ref)

    def _fetch(self, name: str) -> WorkRef | None:
        try:
            work = self._stub.GetWork(api.GetWorkRequest(name=name, view=res.WORK_VIEW_BASIC))
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise Unavailable(
                "CATALOG_UNAVAILABLE", "cannot look the work up right now; retry"
            ) from error
        return _ref(name, work)


def _ref(name: str, work: res.Work) -> WorkRef:
    publisher = name.split("/works/")[0]
    return WorkRef(work.name, publisher, work.section, frozenset(work.tags), work.canonical_url)
