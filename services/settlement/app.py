"""Wiring: builds the settlement service's database, use cases and gRPC service."""

from __future__ import annotations

from pathlib import Path

import grpc
from licentia.settlement.v1 import settlement_service_pb2 as api
from licentia.settlement.v1 import settlement_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from services.runtime.bootstrap import (
    catalog_key_authenticator,
    open_service_database,
    ready_database,
)
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.lenient_decoding import add_leniently
from services.runtime.server import ServiceApp
from services.settlement.adapters.catalog_rights import CatalogRights
from services.settlement.adapters.licensing_terms import LicensingTerms
from services.settlement.adapters.metering_usage import MeteringUsage
from services.settlement.entrypoints.grpc_servicer import SettlementServicer
from services.settlement.service_layer.charges import ChargesService
from services.settlement.service_layer.closing import ClosingService
from services.settlement.service_layer.documents import DocumentService
from services.settlement.service_layer.payouts import PayoutService
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory

NAME = "settlement"
MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICE = api.DESCRIPTOR.services_by_name["SettlementService"].full_name


def open_database(settings: Settings) -> Database:
    return open_service_database(settings, NAME)


def build_app(settings: Settings, tracer_provider: TracerProvider) -> ServiceApp:
    database = ready_database(settings, NAME, MIGRATIONS, tracer_provider)

    channels = ServiceChannels(settings, tracer_provider)
    uow = UnitOfWorkFactory(database)
    usage = MeteringUsage(channels.channel("metering"))
    licenses = LicensingTerms(channels.channel("licensing"))
    servicer = SettlementServicer(
        ClosingService(uow, usage, licenses, CatalogRights(channels.channel("catalog"))),
        DocumentService(uow),
        ChargesService(uow, usage, licenses),
        PayoutService(uow),
    )
    authenticator = catalog_key_authenticator(settings, channels)

    def register(server: grpc.Server) -> None:
        add_leniently(api_grpc.add_SettlementServiceServicer_to_server, servicer, server)

    return ServiceApp(
        name=NAME,
        grpc_service_names=(GRPC_SERVICE,),
        register=register,
        authenticator=authenticator,
        on_stop=[channels.close, database.dispose],
    )
