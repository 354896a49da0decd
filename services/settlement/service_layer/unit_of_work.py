"""The settlement unit of work: its own records and the ledger, one transaction."""

from __future__ import annotations

from sqlalchemy import Connection

from services.runtime.database import Database
from services.runtime.unit_of_work import SqlUnitOfWork
from services.settlement.adapters.ledger_repository import LedgerRepository
from services.settlement.adapters.repository import SettlementRepository


class SettlementUnitOfWork(SqlUnitOfWork):
    records: SettlementRepository
    ledger: LedgerRepository

    def _open(self, connection: Connection) -> None:
        self.records = SettlementRepository(connection)
        self.ledger = LedgerRepository(connection)


class UnitOfWorkFactory:
    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, write: bool = True) -> SettlementUnitOfWork:
        return SettlementUnitOfWork(self.database, write)
