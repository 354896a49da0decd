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
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from licentia.catalog.v1 import resources_pb2 as res

from services.licensing.adapters.catalog_works import CatalogWorkDirectory

WORK = "publishers/pa/works/w1"


class Catalog(api_grpc.CatalogServiceServicer):
    def __init__(self) -> None:
        self.section = "politics"
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def GetWork(self, request: Any, context: grpc.ServicerContext) -> res.Work:
        self.calls += 1
        self.gate.wait(10)
        return res.Work(name=request.name, section=self.section)


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
