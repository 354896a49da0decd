"""Alembic migrations, per service: applied at start-up or by `licentia migrate`.

On PostgreSQL each service migrates its own schema under an advisory lock, so replicas
starting together apply each migration once.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text

from services.runtime.database import Database


def _config(script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


def upgrade(database: Database, script_location: Path, revision: str = "head") -> None:
    database.ensure_schema()
    config = _config(script_location)
    with database.write_transaction() as conn:
        if database.is_postgres:
            key = zlib.crc32(f"{database.schema}.migrations".encode())
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def is_current(database: Database, script_location: Path) -> bool:
    """True when every migration of the service has been applied."""
    heads = set(ScriptDirectory.from_config(_config(script_location)).get_heads())
    with database.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


def run_migrations_online(target_metadata: MetaData) -> None:
    """The body of every service's alembic env.py."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
