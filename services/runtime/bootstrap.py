"""What every service's wiring starts with: its database, migrated and traced, and (for
services other than the catalog) an authenticator that asks the catalog about keys."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from services.runtime import migrations
from services.runtime.authentication import CachedKeyAuthenticator, StaticCredentials
from services.runtime.catalog_keys import CatalogKeyResolver
from services.runtime.clients import ServiceChannels
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.telemetry import trace_engine


def open_service_database(settings: Settings, service: str) -> Database:
    return Database(settings.database_url_for(service), settings.schema_for(service))


def ready_database(
    settings: Settings, service: str, migrations_dir: Path, tracer_provider: TracerProvider
) -> Database:
    """The service's database with its schema current (migrated now, or refused when
    migrations run separately and have not), its queries traced."""
    database = open_service_database(settings, service)
    if settings.migrate_on_start:
        migrations.upgrade(database, migrations_dir)
    elif not migrations.is_current(database, migrations_dir):
        raise RuntimeError(f"the {service} schema is out of date: run `licentia migrate {service}`")
    trace_engine(database.engine, tracer_provider)
    return database


def catalog_key_authenticator(
    settings: Settings, channels: ServiceChannels
) -> CachedKeyAuthenticator:
    """Bootstrap credentials locally; API keys through the catalog, cached."""
    return CachedKeyAuthenticator(
        StaticCredentials(settings.operator_api_key, settings.service_token),
        CatalogKeyResolver(channels.channel("catalog")),
        settings.auth_cache_ttl_seconds,
    )
