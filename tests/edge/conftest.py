"""The edge (license server) as a real HTTP server (uvicorn on a free port) in front of
the in-process catalog and licensing servers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.edge import app as edge_app
from services.runtime.ports import free_port
from tests.api.conftest import market  # noqa: F401
from tests.api.market import Market
from tests.asgi import serving


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
    with serving(edge_app.build_app(settings), port, "edge") as url:
        yield Edge(url, market)
