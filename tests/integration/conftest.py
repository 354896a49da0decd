"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from services.provenance import app as provenance_app
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.database import Database


def migrated(service: ModuleType, settings: Settings) -> Iterator[Database]:
    """A service's database (its `app` module's), migrated to the newest schema, then
    disposed: the body of a `database` fixture (SQLite and PostgreSQL, as `settings` is)."""
    database = service.open_database(settings)
    migrations.upgrade(database, service.MIGRATIONS)
    yield database
    database.dispose()


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """Provenance's database, migrated."""
    yield from migrated(provenance_app, settings)
