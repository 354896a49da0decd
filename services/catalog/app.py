"""Wiring: builds the catalog's database, use cases and gRPC service for the runtime."""

from __future__ import annotations

from pathlib import Path

import grpc
from licentia.catalog.v1 import catalog_service_pb2 as api
from licentia.catalog.v1 import catalog_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from services.catalog.adapters.licensing_client import LicensingPermissions
from services.catalog.entrypoints.grpc_servicer import CatalogServicer
from services.catalog.service_layer.accounts import AccountService
from services.catalog.service_layer.bots import BotService
from services.catalog.service_layer.delivery import ContentService
from services.catalog.service_layer.delivery_usage import DeliveryMetering
from services.catalog.service_layer.events import EventFeedService
from services.catalog.service_layer.importing import ImportService
from services.catalog.service_layer.unit_of_work import OUTBOX, UnitOfWorkFactory
from services.catalog.service_layer.works import WorkService
from services.runtime.authentication import CachedKeyAuthenticator, StaticCredentials, hash_api_key
from services.runtime.bootstrap import open_service_database, ready_database
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.event_relay import EventRelay, MemoryCursor
from services.runtime.lenient_decoding import add_leniently
from services.runtime.outbox import OutboxSequencer, backlog_gauge
from services.runtime.server import ServiceApp
from services.runtime.usage_reporting import UsageReporter

NAME = "catalog"
MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICE = api.DESCRIPTOR.services_by_name["CatalogService"].full_name


def open_database(settings: Settings) -> Database:
    return open_service_database(settings, NAME)


def build_app(settings: Settings, tracer_provider: TracerProvider) -> ServiceApp:
    database = ready_database(settings, NAME, MIGRATIONS, tracer_provider)

    sequencer = OutboxSequencer(OUTBOX, database)
    uow = UnitOfWorkFactory(database, on_events=sequencer.wake)
    authenticator: CachedKeyAuthenticator
    accounts = AccountService(uow, on_key_revoked=lambda digest: authenticator.forget(digest))
    authenticator = CachedKeyAuthenticator(
        StaticCredentials(settings.operator_api_key, settings.service_token),
        lambda key: accounts.resolve_key(hash_api_key(key)),
        settings.auth_cache_ttl_seconds,
    )
    channels = ServiceChannels(settings, tracer_provider)
    content = ContentService(uow, LicensingPermissions(channels.channel("licensing")))
    servicer = CatalogServicer(
        accounts, WorkService(uow), ImportService(uow), EventFeedService(uow), content,
        BotService(uow),
    )  # fmt: skip
    metering = DeliveryMetering(uow, UsageReporter(channels.channel("metering")))
    delivery_usage = EventRelay(
        "delivery-usage",
        metering.pending,
        metering.send,
        lambda d: 0,
        MemoryCursor(),  # unsent deliveries are found by their state, not a position
        idle_seconds=settings.delivery_usage_seconds,
    )

    def register(server: grpc.Server) -> None:
        add_leniently(api_grpc.add_CatalogServiceServicer_to_server, servicer, server)

    return ServiceApp(
        name=NAME,
        grpc_service_names=(GRPC_SERVICE,),
        register=register,
        authenticator=authenticator,
        on_start=[sequencer.start, delivery_usage.start],
        on_stop=[database.dispose, channels.close, sequencer.stop, delivery_usage.stop],
        gauges={
            **backlog_gauge(OUTBOX, database),
            "licentia_deliveries_unmetered": (
                "Content deliveries not yet recorded in metering",
                lambda: float(metering.waiting()),
            ),
        },
    )
