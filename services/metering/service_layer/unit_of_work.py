"""The metering unit of work: the usage repository, one transaction."""

from __future__ import annotations

from sqlalchemy import Connection

from services.metering.adapters.postgres_usage import PostgresUsageRepository
from services.metering.adapters.repository import UsageRepository
from services.runtime.database import Database
from services.runtime.unit_of_work import SqlUnitOfWork


class MeteringUnitOfWork(SqlUnitOfWork):
    usage: UsageRepository

    def _open(self, connection: Connection) -> None:
        postgres = connection.dialect.name == "postgresql"
        self.usage = (PostgresUsageRepository if postgres else UsageRepository)(connection)


class UnitOfWorkFactory:
    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, write: bool = True, autocommit: bool = False) -> MeteringUnitOfWork:
        return MeteringUnitOfWork(self.database, write, autocommit)
