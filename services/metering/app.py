"""Wiring: builds the metering service's database, use cases and gRPC service."""

from __future__ import annotations

from pathlib import Path

import grpc
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from services.metering.adapters.licensing_decisions import LicensingDecisions
from services.metering.adapters.partitions import PartitionKeeper
from services.metering.entrypoints.grpc_servicer import MeteringServicer
from services.metering.service_layer.billing import BillingService
from services.metering.service_layer.ingest import IngestService
from services.metering.service_layer.summaries import SummaryService
from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
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

NAME = "metering"
MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICE = api.DESCRIPTOR.services_by_name["MeteringService"].full_name


def open_database(settings: Settings) -> Database:
    return open_service_database(settings, NAME)


def build_app(settings: Settings, tracer_provider: TracerProvider) -> ServiceApp:
    database = ready_database(settings, NAME, MIGRATIONS, tracer_provider)

    channels = ServiceChannels(settings, tracer_provider)
    uow = UnitOfWorkFactory(database)
    decisions = LicensingDecisions(
        channels.channel("licensing"),
        settings.license_refresh_seconds,
        max_age_seconds=settings.work_cache_ttl_seconds,
    )
    servicer = MeteringServicer(
        IngestService(uow, decisions), SummaryService(uow), BillingService(uow)
    )
    authenticator = catalog_key_authenticator(settings, channels)
    partitions = PartitionKeeper(database)

    def register(server: grpc.Server) -> None:
        add_leniently(
            api_grpc.add_MeteringServiceServicer_to_server,
            servicer,
            server,
            judged_per_item=("RecordUsage", "StreamUsage"),  # a NUL rejects its event only
        )

    return ServiceApp(
        name=NAME,
        grpc_service_names=(GRPC_SERVICE,),
        register=register,
        authenticator=authenticator,
        on_start=[decisions.start, partitions.start],
        on_stop=[database.dispose, channels.close, decisions.stop, partitions.stop],
    )
