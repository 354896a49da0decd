"""The whole marketplace in process (the five services' real gRPC servers, the edge) and
the console's HTTP component on a real HTTP server in front of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.console import app as console_app
from services.edge import app as edge_app
from services.provenance import app as provenance_app
from services.runtime.ports import free_port
from services.settlement import app as settlement_app
from tests.api.conftest import market  # noqa: F401
from tests.api.market import Market, start_metering
from tests.asgi import serving
from tests.conftest import ServiceHarness, start_service


@dataclass
class Console:
    url: str
    market: Market
    metering: ServiceHarness
    settlement: ServiceHarness
    provenance: ServiceHarness
    edge: str  # the edge's URL (the toll, crawler analytics)

    def rpc(self, service: str, method: str) -> str:
        """The Connect URL of a method: `rpc("catalog", "GetWork")`."""
        return f"{self.url}/licentia.{service}.v1.{service.capitalize()}Service/{method}"


@pytest.fixture
def console(market: Market) -> Iterator[Console]:  # noqa: F811
    metering = start_metering(market)
    settlement = start_service(settlement_app, metering.settings)
    provenance = start_service(
        provenance_app,
        metering.settings.model_copy(update={"provenance_poll_seconds": 0.05}),
    )
    port, edge_port = free_port(), free_port()
    settings = metering.settings.with_ports(
        settlement=settlement.server.port,
        provenance=provenance.server.port,
        console=port,
        edge=edge_port,
    ).model_copy(update={"edge_feed_seconds": 0.1})
    try:
        with (
            serving(edge_app.build_app(settings), edge_port, "edge") as edge_url,
            serving(console_app.build_app(settings), port, "console") as url,
        ):
            yield Console(url, market, metering, settlement, provenance, edge_url)
    finally:
        for harness in (provenance, settlement, metering):
            harness.channel.close()
            harness.server.stop(0)
