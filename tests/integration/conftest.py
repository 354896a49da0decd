"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.provenance import app as provenance_app
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.database import Database


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """Provenance's database, migrated (SQLite and PostgreSQL, as `settings` is)."""
    database = provenance_app.open_database(settings)
    migrations.upgrade(database, provenance_app.MIGRATIONS)
    yield database
    database.dispose()
