"""The edge (license server) as a real HTTP server (uvicorn on a free port) in front of
the in-process catalog and licensing servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from services.edge import app as edge_app
from services.runtime.ports import free_port
from tests.api.conftest import market  # noqa: F401
from tests.api.market import Market


@dataclass
class Edge:
    url: str
    market: Market


@pytest.fixture
def edge(market: Market) -> Iterator[Edge]:  # noqa: F811
    port = free_port()
    settings = market.catalog.settings.with_ports(
        catalog=market.catalog.server.port, licensing=market.licensing.server.port, edge=port
    )
    app = edge_app.build_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="edge", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the edge did not start")
        time.sleep(0.02)
    yield Edge(f"http://127.0.0.1:{port}", market)
    server.should_exit = True
    thread.join(10)
