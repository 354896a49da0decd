"""The provenance unit of work: the index repository, one transaction."""

from __future__ import annotations

from sqlalchemy import Connection

from services.provenance.adapters.repository import IndexRepository
from services.runtime.database import Database
from services.runtime.unit_of_work import SqlUnitOfWork


class ProvenanceUnitOfWork(SqlUnitOfWork):
    index: IndexRepository

    def _open(self, connection: Connection) -> None:
        self.index = IndexRepository(connection)


class UnitOfWorkFactory:
    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, write: bool = True, autocommit: bool = False) -> ProvenanceUnitOfWork:
        return ProvenanceUnitOfWork(self.database, write, autocommit)
