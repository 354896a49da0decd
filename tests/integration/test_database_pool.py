"""The PostgreSQL connection pool: a connection cut while idle in the pool is replaced
before use, and a connection in steady use is not pinged before every transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event, text

from services.runtime import database as database_module
from services.runtime.database import Database
from services.runtime.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url, f"test_{uuid.uuid4().hex[:12]}")
    db.ensure_schema()
    yield db
    with db.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE'))
    db.dispose()


def backend_pid(database: Database) -> int:
    with SqlUnitOfWork(database, write=False) as uow:
        return int(uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_cut_while_idle_is_replaced_before_use(
    database: Database, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(database)
    with psycopg.connect(postgres_url, autocommit=True) as other:  # outside the pool
        other.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(database_module, "IDLE_BEFORE_PING", 0.0)  # idle long enough
    assert backend_pid(database) != first  # answered, on a new connection


def test_a_connection_in_steady_use_is_not_pinged(database: Database) -> None:
    statements: list[str] = []
    event.listen(
        database.engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
    )
    pings: list[object] = []
    real_ping = database.engine.dialect.do_ping
    database.engine.dialect.do_ping = lambda c: pings.append(c) or real_ping(c)  # type: ignore[method-assign]
    for _ in range(5):
        backend_pid(database)
    assert len(pings) <= 1  # the first checkout of a new connection at most
    assert statements == ["SELECT pg_backend_pid()"] * 5


def test_an_autocommit_read_opens_no_transaction(database: Database) -> None:
    with SqlUnitOfWork(database, write=False, autocommit=True) as uow:
        status = uow.connection.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
        uow.connection.execute(text("SELECT 1"))
        after = uow.connection.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
    assert status == after == psycopg.pq.TransactionStatus.IDLE
    with SqlUnitOfWork(database, write=False) as uow:  # a plain read keeps its transaction
        uow.connection.execute(text("SELECT 1"))
        in_transaction = uow.connection.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
    assert in_transaction == psycopg.pq.TransactionStatus.INTRANS
