"""Licensing's cache of catalog works, against a real gRPC server standing in for the
catalog: an expired entry is answered at once and refreshed in the background, once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from services.licensing.adapters.catalog_works import CatalogWorkDirectory

WORK = "publishers/pa/works/w1"


class Catalog(api_grpc.CatalogServiceServicer):
    def __init__(self) -> None:
        self.section = "politics"
        self.calls = 0
        self.batch_calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def GetWork(self, request: Any, context: grpc.ServicerContext) -> res.Work:
        self.calls += 1
        self.gate.wait(10)
        if request.name.endswith("/gone"):
            context.abort(grpc.StatusCode.NOT_FOUND, "no such work")
        return res.Work(name=request.name, section=self.section)

    def BatchGetWorks(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.batch_calls += 1
        return api.BatchGetWorksResponse(
            works=[
                res.Work(name=n, section=self.section) for n in request.names if "gone" not in n
            ],
            missing=[n for n in request.names if "gone" in n],
        )


@pytest.fixture
def catalog() -> Iterator[tuple[Catalog, grpc.Channel]]:
    servicer = Catalog()
    server = grpc.server(ThreadPoolExecutor(4))
    api_grpc.add_CatalogServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield servicer, channel
    channel.close()
    server.stop(0)


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_an_expired_work_is_answered_from_cache_and_refreshed_once_in_the_background(
    catalog: tuple[Catalog, grpc.Channel],
) -> None:
    servicer, channel = catalog
    works = CatalogWorkDirectory(channel, ttl_seconds=0.05)
    try:
        first = works.get(WORK)
        assert first is not None and first.section == "politics" and servicer.calls == 1
        assert works.get(WORK) == first and servicer.calls == 1  # fresh: no call

        servicer.section = "sport"
        servicer.gate.clear()  # the catalog now holds every call until released
        time.sleep(0.1)  # past the TTL
        # Answered while the refresh is held inside the catalog: the check never waits.
        answers = [works.get(WORK) for _ in range(20)]
        assert all(a is not None and a.section == "politics" for a in answers)
        wait_for(lambda: servicer.calls == 2)
        servicer.gate.set()
        wait_for(lambda: (ref := works.get(WORK)) is not None and ref.section == "sport")
        assert servicer.calls == 2  # one refresh for all those checks
    finally:
        servicer.gate.set()
        works.close()


def test_a_batch_of_works_never_seen_costs_one_catalog_call(
    catalog: tuple[Catalog, grpc.Channel],
) -> None:
    """Permission checks over many new works (provenance asks about every work a text
    quotes) wait for one BatchGetWorks, not one GetWork per work."""
    servicer, channel = catalog
    works = CatalogWorkDirectory(channel, ttl_seconds=60)
    try:
        names = [f"publishers/pa/works/n{i}" for i in range(1_500)] + ["publishers/pa/works/gone"]
        works.prefetch(names)
        assert servicer.batch_calls == 2  # BatchGetWorks takes 1,000 names a call
        assert all(works.get(n) is not None for n in names[:-1])
        assert works.get("publishers/pa/works/gone") is None
        assert servicer.calls == 0
        works.prefetch(names)  # all known now: no call
        assert servicer.batch_calls == 2
    finally:
        works.close()
