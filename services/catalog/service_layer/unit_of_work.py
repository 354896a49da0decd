"""The catalog's unit of work: its repositories and outbox on one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from services.catalog.adapters import tables
from services.catalog.adapters.account_repository import AccountRepository
from services.catalog.adapters.bot_repository import BotRepository
from services.catalog.adapters.delivery_repository import DeliveryRepository
from services.catalog.adapters.work_repository import WorkRepository
from services.runtime.database import Database
from services.runtime.outbox import Outbox, OutboxEvent
from services.runtime.request_ids import RequestIds
from services.runtime.unit_of_work import SqlUnitOfWork

OUTBOX = Outbox(tables.outbox)


class CatalogUnitOfWork(SqlUnitOfWork):
    accounts: AccountRepository
    bots: BotRepository
    works: WorkRepository
    deliveries: DeliveryRepository
    requests: RequestIds

    def __init__(
        self,
        database: Database,
        write: bool,
        on_events: Callable[[], None],
        autocommit: bool = False,
    ) -> None:
        super().__init__(database, write, autocommit)
        self._on_events = on_events

    def _open(self, connection: Connection) -> None:
        self.accounts = AccountRepository(connection)
        self.bots = BotRepository(connection)
        self.works = WorkRepository(connection)
        self.deliveries = DeliveryRepository(connection)
        self.requests = RequestIds(connection, tables.request_ids)

    def publish(self, events: list[OutboxEvent]) -> None:
        """Record events in this transaction; they reach the feed once it commits."""
        if events:
            OUTBOX.add(self.connection, events)
            self.after_commit(self._on_events)


class UnitOfWorkFactory:
    def __init__(self, database: Database, on_events: Callable[[], None] = lambda: None) -> None:
        self.database = database
        self._on_events = on_events

    def __call__(self, write: bool = True, autocommit: bool = False) -> CatalogUnitOfWork:
        return CatalogUnitOfWork(self.database, write, self._on_events, autocommit)
