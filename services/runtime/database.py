"""Engines, built at start-up (never at import), one database or schema per service.

SQLite (the embedded default): a file per service under the data directory, in WAL
mode so readers never wait for the writer. PostgreSQL: one schema per service, chosen
with the connection's search_path so the same migrations and queries serve both.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError

# Execution option a unit of work sets on connections that will write.
WRITE_OPTION = "licentia_write"
# Execution option for reads whose statements each stand alone: no BEGIN on SQLite.
STANDALONE_OPTION = "licentia_standalone_reads"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A pooled PostgreSQL connection idle longer than this is pinged before use: it may have
# been cut meanwhile (a database restart, a proxy's idle time-out). One used more recently
# is not: pinging on every checkout (pool_pre_ping) cost a round trip per transaction,
# which on a busy service is a quarter of its round trips. A connection lost within the
# window fails its call with UNAVAILABLE (retryable) and the pool drops its connections.
IDLE_BEFORE_PING = 2.0  # seconds
_LAST_CHECKIN = "licentia_last_checkin"


class Database:
    def __init__(self, url: str, schema: str) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid database schema name: {schema!r}")
        self.url = make_url(url)
        self.schema = schema
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self.engine = self._create_engine()

    def _create_engine(self) -> Engine:
        if self.is_postgres:
            url = self.url.set(drivername="postgresql+psycopg")
            engine = create_engine(
                url,
                pool_size=10,
                max_overflow=20,
                connect_args={"options": f"-csearch_path={self.schema}"},
            )
            _ping_when_idle(engine)
            return engine
        if self.url.get_backend_name() != "sqlite":
            raise ValueError(f"unsupported database: {self.url.get_backend_name()}")
        if self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, pool_size=10, max_overflow=20)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    def ensure_schema(self) -> None:
        if self.is_postgres:
            with self.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """A connection in a writing transaction, committed when the block ends."""
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _ping_when_idle(engine: Engine) -> None:
    dialect = engine.dialect

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_LAST_CHECKIN)
        if last is not None and time.monotonic() - last < IDLE_BEFORE_PING:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out another (a fresh one if
            # need be), as pool_pre_ping does.
            raise DisconnectionError(f"pooled connection lost: {error}") from error

    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_CHECKIN] = time.monotonic()

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)


def _sqlite_begin(conn: Any) -> None:
    # A writing unit of work takes SQLite's write lock up front (BEGIN IMMEDIATE), so
    # concurrent writers queue on busy_timeout instead of failing when a read lock
    # cannot be upgraded; readers use a plain BEGIN and never wait in WAL mode.
    # A read whose statements each stand alone needs no transaction: each statement is
    # atomic by itself.
    options = conn.get_execution_options()
    if options.get(STANDALONE_OPTION, False):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" listener issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def upsert_into(conn: Connection, table: Table) -> Any:
    """An INSERT on `conn`'s dialect that takes ON CONFLICT (PostgreSQL and SQLite both
    have it, as separate SQLAlchemy constructs): one statement that inserts or, on a
    conflicting key, does nothing or updates."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
