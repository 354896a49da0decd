"""Wiring: builds the metering service's database, use cases and gRPC service."""

from __future__ import annotations

from pathlib import Path

import grpc
from licentia.metering.v1 import metering_service_pb2 as api
from licentia.metering.v1 import metering_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from services.metering.adapters.licensing_decisions import LicensingDecisions
from services.metering.entrypoints.grpc_servicer import MeteringServicer
from services.metering.service_layer.ingest import IngestService
from services.metering.service_layer.summaries import SummaryService
from services.metering.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import migrations
from services.runtime.authentication import CachedKeyAuthenticator, StaticCredentials
from services.runtime.catalog_keys import CatalogKeyResolver
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.lenient_decoding import add_leniently
from services.runtime.server import ServiceApp
from services.runtime.telemetry import trace_engine

NAME = "metering"
MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICE = api.DESCRIPTOR.services_by_name["MeteringService"].full_name


def open_database(settings: Settings) -> Database:
    return Database(settings.database_url_for(NAME), settings.schema_for(NAME))


def build_app(settings: Settings, tracer_provider: TracerProvider) -> ServiceApp:
    database = open_database(settings)
    if settings.migrate_on_start:
        migrations.upgrade(database, MIGRATIONS)
    elif not migrations.is_current(database, MIGRATIONS):
        raise RuntimeError("the metering schema is out of date: run `licentia migrate metering`")
    trace_engine(database.engine, tracer_provider)

    channels = ServiceChannels(settings, tracer_provider)
    uow = UnitOfWorkFactory(database)
    decisions = LicensingDecisions(channels.channel("licensing"), settings.license_refresh_seconds)
    servicer = MeteringServicer(IngestService(uow, decisions), SummaryService(uow))
    authenticator = CachedKeyAuthenticator(
        StaticCredentials(settings.operator_api_key, settings.service_token),
        CatalogKeyResolver(channels.channel("catalog")),
        settings.auth_cache_ttl_seconds,
    )

    def register(server: grpc.Server) -> None:
        add_leniently(api_grpc.add_MeteringServiceServicer_to_server, servicer, server)

    return ServiceApp(
        name=NAME,
        grpc_service_names=(GRPC_SERVICE,),
        register=register,
        authenticator=authenticator,
        on_start=[decisions.start],
        on_stop=[decisions.stop, channels.close, database.dispose],
    )
