"""The unit of work: one transaction, rolled back unless `commit()` is called."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection

from services.runtime.database import STANDALONE_OPTION, WRITE_OPTION, Database


class SqlUnitOfWork:
    """Subclasses add repositories in `_open(connection)`."""

    def __init__(self, database: Database, write: bool = True, autocommit: bool = False) -> None:
        """`autocommit`: a read whose statements each stand alone (no server-side cursor,
        no snapshot shared between statements); it skips BEGIN and ROLLBACK, on
        PostgreSQL two of the three round trips of a one-statement read on a hot path."""
        self._database = database
        self._write = write
        self._autocommit = autocommit and not write
        self._after_commit: list[Callable[[], None]] = []
        self.connection: Connection

    def __enter__(self) -> Self:
        connection = self._database.engine.connect()
        if self._write:
            connection = connection.execution_options(**{WRITE_OPTION: True})
        elif self._autocommit and self._database.is_postgres:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        elif self._autocommit:
            connection = connection.execution_options(**{STANDALONE_OPTION: True})
        self.connection = connection
        self._transaction = connection.begin()
        self._open(connection)
        return self

    def _open(self, connection: Connection) -> None:
        """Build the repositories on this connection."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the transaction is durable (cache invalidation, wake-ups)."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        self._transaction.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.connection.close()
