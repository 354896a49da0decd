"""One object per API key: a channel and a stub per service, with the key sent on every
call, a deadline on every call, and retries of UNAVAILABLE calls (gRPC's own retry
policy resends the same request, so a `request_id` set once makes a retried create or
accept happen once)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc
from licentia.catalog.v1 import catalog_service_pb2_grpc as catalog
from licentia.licensing.v1 import licensing_service_pb2_grpc as licensing
from licentia.metering.v1 import metering_service_pb2_grpc as metering
from licentia.provenance.v1 import provenance_service_pb2_grpc as provenance
from licentia.settlement.v1 import settlement_service_pb2_grpc as settlement

from licentia_client.channels import ClientTls, open_channel

SERVICE_NAMES = ("catalog", "licensing", "provenance", "metering", "settlement")
DEFAULT_PORTS = dict(zip(SERVICE_NAMES, range(50051, 50056), strict=True))


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
    def from_env(environ: Mapping[str, str] | None = None) -> Endpoints:
        """From LICENTIA_<SERVICE>_ADDRESS, else LICENTIA_HOST and LICENTIA_<SERVICE>_PORT
        (the defaults: localhost, 50051..50055), as the services read them."""
        env = os.environ if environ is None else environ
        host = env.get("LICENTIA_HOST", "127.0.0.1")
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        return Endpoints(
            **{
                name: env.get(f"LICENTIA_{name.upper()}_ADDRESS")
                or f"{host}:{env.get(f'LICENTIA_{name.upper()}_PORT', DEFAULT_PORTS[name])}"
                for name in SERVICE_NAMES
            }
        )

    @staticmethod
    def from_settings(settings: Any = None) -> Endpoints:
        """From any settings object with `address_of(service)` (the services' own
        configuration), else from the environment."""
        if settings is None:
            return Endpoints.from_env()
        return Endpoints(**{name: settings.address_of(name) for name in SERVICE_NAMES})


class Licentia:
    def __init__(
        self,
        api_key: str,
        endpoints: Endpoints | None = None,
        timeout_seconds: float = 30.0,
        tracer_provider: Any = None,
        tls: ClientTls | None = None,
    ) -> None:
        """`tls`: the CA to trust (and a client certificate for mutual TLS); None speaks
        plaintext, as a marketplace on one machine does."""
        self.endpoints = endpoints or Endpoints.from_env()
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
