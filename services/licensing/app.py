"""Wiring: builds the licensing service's database, use cases and gRPC service."""

from __future__ import annotations

from pathlib import Path

import grpc
from licentia.licensing.v1 import licensing_service_pb2 as api
from licentia.licensing.v1 import licensing_service_pb2_grpc as api_grpc
from opentelemetry.sdk.trace import TracerProvider

from services.licensing.adapters.catalog_works import CatalogWorkDirectory
from services.licensing.adapters.signing import signing_key_from_pem
from services.licensing.domain.licenses import License
from services.licensing.entrypoints.grpc_servicer import LicensingServicer
from services.licensing.service_layer.acquisition import AcquisitionService
from services.licensing.service_layer.licenses import LicenseService
from services.licensing.service_layer.negotiation import NegotiationService
from services.licensing.service_layer.offers import OfferService
from services.licensing.service_layer.permissions import PermissionService
from services.licensing.service_layer.rsl_documents import RslService
from services.licensing.service_layer.tokens import TokenService
from services.licensing.service_layer.unit_of_work import OUTBOX, UnitOfWorkFactory
from services.runtime.bootstrap import (
    catalog_key_authenticator,
    open_service_database,
    ready_database,
)
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.lenient_decoding import add_leniently
from services.runtime.outbox import OutboxSequencer, backlog_gauge
from services.runtime.server import ServiceApp
from services.runtime.sqltypes import utc_now

NAME = "licensing"
MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICE = api.DESCRIPTOR.services_by_name["LicensingService"].full_name
PUBLIC_METHODS = frozenset(
    f"/{GRPC_SERVICE}/{method}" for method in ("GetSigningKeys", "VerifyLicenseToken")
)


def open_database(settings: Settings) -> Database:
    return open_service_database(settings, NAME)


def build_app(settings: Settings, tracer_provider: TracerProvider) -> ServiceApp:
    database = ready_database(settings, NAME, MIGRATIONS, tracer_provider)

    channels = ServiceChannels(settings, tracer_provider)
    sequencer = OutboxSequencer(OUTBOX, database)
    works = CatalogWorkDirectory(channels.channel("catalog"), settings.work_cache_ttl_seconds)

    def on_license(lic: License) -> None:  # after a license change commits
        permissions.refresh(lic)
        sequencer.wake()

    uow = UnitOfWorkFactory(database, on_license)
    permissions = PermissionService(uow, works, settings.license_refresh_seconds)
    offers = OfferService(uow, settings.commission_bps)
    configured = (
        signing_key_from_pem(settings.signing_key_file.read_bytes(), utc_now())
        if settings.signing_key_file
        else None
    )
    tokens = TokenService(uow, configured)
    negotiation = NegotiationService(uow, offers)
    servicer = LicensingServicer(
        offers,
        negotiation,
        LicenseService(uow),
        tokens,
        permissions,
        RslService(uow, offers, settings.licensing_public_url),
        settings.license_refresh_seconds,
        AcquisitionService(uow, works, permissions, negotiation, tokens),
    )
    authenticator = catalog_key_authenticator(settings, channels)

    def register(server: grpc.Server) -> None:
        add_leniently(api_grpc.add_LicensingServiceServicer_to_server, servicer, server)

    return ServiceApp(
        name=NAME,
        grpc_service_names=(GRPC_SERVICE,),
        register=register,
        authenticator=authenticator,
        on_start=[tokens.start, permissions.start, sequencer.start],
        on_stop=[channels.close, works.close, database.dispose, permissions.stop, sequencer.stop],
        public_methods=PUBLIC_METHODS,
        gauges=backlog_gauge(OUTBOX, database),
    )
