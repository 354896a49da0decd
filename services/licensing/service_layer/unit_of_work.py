"""The licensing unit of work: repositories and the license event outbox, one transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from services.licensing.adapters import tables
from services.licensing.adapters.repositories import (
    LicenseRepository,
    OfferRepository,
    ProposalRepository,
)
from services.licensing.adapters.signing import SigningKeyRepository
from services.licensing.domain.licenses import License
from services.runtime.database import Database
from services.runtime.outbox import Outbox, OutboxEvent
from services.runtime.request_ids import RequestIds
from services.runtime.sqltypes import utc_now
from services.runtime.unit_of_work import SqlUnitOfWork

OUTBOX = Outbox(tables.outbox)


class LicensingUnitOfWork(SqlUnitOfWork):
    offers: OfferRepository
    proposals: ProposalRepository
    licenses: LicenseRepository
    keys: SigningKeyRepository
    requests: RequestIds

    def __init__(
        self,
        database: Database,
        write: bool,
        on_license: Callable[[License], None],
        autocommit: bool = False,
    ) -> None:
        super().__init__(database, write, autocommit)
        self._on_license = on_license

    def _open(self, connection: Connection) -> None:
        self.offers = OfferRepository(connection)
        self.proposals = ProposalRepository(connection)
        self.licenses = LicenseRepository(connection)
        self.keys = SigningKeyRepository(connection)
        self.requests = RequestIds(connection, tables.request_ids)

    def license_changed(self, lic: License, kind: str) -> None:
        """Record the change for other services' caches; refresh ours once committed."""
        payload = {"license": lic.name, "vendor": lic.vendor, "publisher": lic.publisher}
        OUTBOX.add(self.connection, [OutboxEvent("license", lic.name, kind, payload, utc_now())])
        self.after_commit(lambda: self._on_license(lic))


class UnitOfWorkFactory:
    def __init__(
        self, database: Database, on_license: Callable[[License], None] = lambda _: None
    ) -> None:
        self.database = database
        self._on_license = on_license

    def __call__(self, write: bool = True, autocommit: bool = False) -> LicensingUnitOfWork:
        return LicensingUnitOfWork(self.database, write, self._on_license, autocommit)
