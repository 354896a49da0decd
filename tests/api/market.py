"""A marketplace in process: the real catalog and licensing servers, two publishers with
works, two vendors, and licensing clients for each party."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from licentia.catalog.v1 import catalog_service_pb2 as capi
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from licentia.licensing.v1 import resources_pb2 as res

from services.licensing import app as licensing_app
from services.metering import app as metering_app
from services.runtime.config import Settings
from services.runtime.ports import free_port
from tests.api.helpers import Account, article, make_publisher, make_vendor
from tests.conftest import (
    OPERATOR_KEY,
    Client,
    ServiceHarness,
    start_catalog,
    start_service,
)


@dataclass
class Party:
    account: Account
    lic: Client  # LicensingService as this party

    @property
    def name(self) -> str:
        return self.account.name


@dataclass
class Market:
    catalog: ServiceHarness
    licensing: ServiceHarness
    pa: Party
    pb: Party
    va: Party
    vb: Party
    works_a: list[str]
    works_b: list[str]

    def client(self, key: str | None) -> Client:
        return Client(self.licensing.channel, key, api_grpc.LicensingServiceStub)

    @property
    def operator(self) -> Client:
        return self.client(OPERATOR_KEY)

    def offer(
        self, publisher: Party, terms: res.Terms, floor: int = 0, publish: bool = True
    ) -> res.Offer:
        offer = publisher.lic.CreateOffer(
            api.CreateOfferRequest(
                parent=publisher.name,
                offer=res.Offer(
                    display_name="Test offer", terms=terms, auto_accept_floor_micros=floor
                ),
            )
        )
        if publish:
            offer = publisher.lic.PublishOffer(api.PublishOfferRequest(name=offer.name))
        return offer

    def license(self, vendor: Party, offer: res.Offer) -> res.License:
        proposal = vendor.lic.CreateProposal(api.CreateProposalRequest(offer=offer.name))
        return vendor.lic.GetLicense(api.GetLicenseRequest(name=proposal.license))


def start_metering(market: Market) -> ServiceHarness:
    """Metering on its reserved port, wired to this market's catalog and licensing."""
    settings = market.catalog.settings.with_ports(
        catalog=market.catalog.server.port, licensing=market.licensing.server.port
    ).model_copy(update={"license_refresh_seconds": 0.1})
    return start_service(metering_app, settings, settings.port_of("metering"))


def terms(**overrides: object) -> res.Terms:
    """Per-use terms for AI answers (ai-input), USD 0.002 per use, unless overridden."""
    fields: dict[str, object] = dict(
        permitted_uses=["ai-input"],
        price=res.Price(model=res.Price.MODEL_PER_USE, currency="USD", amount_micros=2_000),
    )
    fields.update(overrides)
    return res.Terms(**fields)  # type: ignore[arg-type]


def start_market(settings: Settings) -> Iterator[Market]:
    licensing_port = free_port()
    # Metering's port is reserved for the tests that start it: the catalog sends it
    # content deliveries, provenance attribution usage.
    settings = settings.with_ports(metering=free_port()).model_copy(
        update={"delivery_usage_seconds": 0.05}
    )
    catalog = start_catalog(settings.with_ports(licensing=licensing_port))
    lic_settings = settings.with_ports(catalog=catalog.server.port).model_copy(
        update={"license_refresh_seconds": 0.2}
    )
    licensing = start_service(licensing_app, lic_settings, licensing_port)
    try:
        accounts = [
            make_publisher(catalog, "pa"),
            make_publisher(catalog, "pb"),
            make_vendor(catalog, "va"),
            make_vendor(catalog, "vb"),
        ]
        works: dict[str, list[str]] = {}
        for pub in accounts[:2]:
            works[pub.name] = [
                pub.client.CreateWork(capi.CreateWorkRequest(parent=pub.name, work=article(n))).name
                for n in range(4)
            ]
        pa, pb, va, vb = (
            Party(a, Client(licensing.channel, a.key, api_grpc.LicensingServiceStub))
            for a in accounts
        )
        yield Market(
            catalog, licensing, pa, pb, va, vb, works["publishers/pa"], works["publishers/pb"]
        )
    finally:
        licensing.channel.close()
        licensing.server.stop(0)
        catalog.channel.close()
        catalog.server.stop(0)
