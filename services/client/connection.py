"""One object per API key: a channel and a stub per service, with the key sent on every
call, a deadline on every call, and retries of UNAVAILABLE calls (gRPC's own retry
policy resends the same request, so a `request_id` set once makes a retried create or
accept happen once)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc
from licentia.catalog.v1 import catalog_service_pb2_grpc as catalog
from licentia.licensing.v1 import licensing_service_pb2_grpc as licensing
from licentia.metering.v1 import metering_service_pb2_grpc as metering
from licentia.provenance.v1 import provenance_service_pb2_grpc as provenance
from licentia.settlement.v1 import settlement_service_pb2_grpc as settlement
from opentelemetry.sdk.trace import TracerProvider

from services.runtime.clients import ClientTls, open_channel
from services.runtime.config import SERVICE_NAMES, Settings


def new_request_id() -> str:
    """An id for one logical call; reuse it when you retry that call yourself."""
    return f"r{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Endpoints:
    """host:port of each service."""

    catalog: str
    licensing: str
    provenance: str
    metering: str
    settlement: str

    @staticmethod
    def from_settings(settings: Settings | None = None) -> Endpoints:
        """From LICENTIA_<SERVICE>_ADDRESS, else LICENTIA_HOST and LICENTIA_<SERVICE>_PORT
        (the defaults: localhost, 50051..50055)."""
        s = settings or Settings()
        return Endpoints(**{name: s.address_of(name) for name in SERVICE_NAMES})


class Licentia:
    def __init__(
        self,
        api_key: str,
        endpoints: Endpoints | None = None,
        timeout_seconds: float = 30.0,
        tracer_provider: TracerProvider | None = None,
        tls: ClientTls | None = None,
    ) -> None:
        """`tls`: the CA to trust (and a client certificate for mutual TLS); None speaks
        plaintext, as a marketplace on one machine does."""
        self.endpoints = endpoints or Endpoints.from_settings()
        self._channels = {
            name: open_channel(
                getattr(self.endpoints, name), api_key, tracer_provider, timeout_seconds, tls=tls
            )
            for name in SERVICE_NAMES
        }
        self.catalog = catalog.CatalogServiceStub(self._channels["catalog"])
        self.licensing = licensing.LicensingServiceStub(self._channels["licensing"])
        self.provenance = provenance.ProvenanceServiceStub(self._channels["provenance"])
        self.metering = metering.MeteringServiceStub(self._channels["metering"])
        self.settlement = settlement.SettlementServiceStub(self._channels["settlement"])

    @staticmethod
    def paged(call: Callable[..., Any], request: Any, field: str) -> Iterator[Any]:
        """Every item of a paginated List call, page after page."""
        while True:
            page = call(request)
            yield from getattr(page, field)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    def channel(self, service: str) -> grpc.Channel:
        return self._channels[service]

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
