"""Publishers, vendors, API keys and request ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.catalog.adapters import tables as t
from services.catalog.domain.model import ApiKey, OAuthClient, Publisher, Vendor
from services.runtime.sqltypes import utc_now


class AccountRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_publisher(self, publisher: Publisher) -> bool:
        return self._insert(t.publishers, publisher.__dict__)

    def add_vendor(self, vendor: Vendor) -> bool:
        return self._insert(t.vendors, vendor.__dict__)

    def get_publisher(self, publisher_id: str) -> Publisher | None:
        row = self._conn.execute(
            select(t.publishers).where(t.publishers.c.id == publisher_id)
        ).first()
        return Publisher(**row._mapping) if row else None

    def get_vendor(self, vendor_id: str) -> Vendor | None:
        row = self._conn.execute(select(t.vendors).where(t.vendors.c.id == vendor_id)).first()
        return Vendor(**row._mapping) if row else None

    def list_publishers(self, after: str | None, limit: int) -> list[Publisher]:
        return [Publisher(**r._mapping) for r in self._page(t.publishers, after, limit)]

    def list_vendors(self, after: str | None, limit: int) -> list[Vendor]:
        return [Vendor(**r._mapping) for r in self._page(t.vendors, after, limit)]

    def account_exists(self, account: str) -> bool:
        kind, _, account_id = account.partition("/")
        if kind == "publishers":
            return self.get_publisher(account_id) is not None
        if kind == "vendors":
            return self.get_vendor(account_id) is not None
        return False

    # API keys

    def add_api_key(self, key: ApiKey) -> bool:
        return self._insert(t.api_keys, key.__dict__)

    def get_api_key(self, account: str, key_id: str) -> ApiKey | None:
        row = self._conn.execute(
            select(t.api_keys).where(t.api_keys.c.account == account, t.api_keys.c.id == key_id)
        ).first()
        return ApiKey(**row._mapping) if row else None

    def find_active_key(self, key_hash: str) -> ApiKey | None:
        row = self._conn.execute(
            select(t.api_keys).where(
                t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoke_time.is_(None)
            )
        ).first()
        return ApiKey(**row._mapping) if row else None

    def list_api_keys(self, account: str, after: str | None, limit: int) -> list[ApiKey]:
        query = select(t.api_keys).where(t.api_keys.c.account == account)
        if after is not None:
            query = query.where(t.api_keys.c.id > after)
        rows = self._conn.execute(query.order_by(t.api_keys.c.id).limit(limit))
        return [ApiKey(**r._mapping) for r in rows]

    def revoke_api_key(self, key: ApiKey) -> ApiKey:
        if key.revoke_time is not None:
            return key
        now = utc_now()
        self._conn.execute(
            update(t.api_keys).where(t.api_keys.c.id == key.id).values(revoke_time=now)
        )
        return ApiKey(**{**key.__dict__, "revoke_time": now})

    def add_oauth_client(self, client: OAuthClient) -> bool:
        return self._insert(t.oauth_clients, client.__dict__)

    def get_oauth_client(self, account: str, client_id: str) -> OAuthClient | None:
        c = t.oauth_clients.c
        row = self._conn.execute(
            select(t.oauth_clients).where(c.account == account, c.id == client_id)
        ).first()
        return OAuthClient(**row._mapping) if row else None

    def find_active_oauth_client(self, client_id: str) -> OAuthClient | None:
        c = t.oauth_clients.c
        row = self._conn.execute(
            select(t.oauth_clients).where(c.id == client_id, c.revoke_time.is_(None))
        ).first()
        return OAuthClient(**row._mapping) if row else None

    def list_oauth_clients(self, account: str, after: str | None, limit: int) -> list[OAuthClient]:
        c = t.oauth_clients.c
        query = select(t.oauth_clients).where(c.account == account)
        if after is not None:
            query = query.where(c.id > after)
        rows = self._conn.execute(query.order_by(c.id).limit(limit))
        return [OAuthClient(**r._mapping) for r in rows]

    def revoke_oauth_client(self, client: OAuthClient) -> OAuthClient:
        if client.revoke_time is not None:
            return client
        now = utc_now()
        self._conn.execute(
            update(t.oauth_clients).where(t.oauth_clients.c.id == client.id).values(revoke_time=now)
        )
        return OAuthClient(**{**client.__dict__, "revoke_time": now})

    def _insert(self, table: Table, values: dict[str, Any]) -> bool:
        """Insert a row; False when its key is taken (in a savepoint, so the
        surrounding transaction stays usable)."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(table).values(**values))
        except IntegrityError:
            return False
        return True

    def _page(self, table: Table, after: str | None, limit: int) -> Any:
        query = select(table)
        if after is not None:
            query = query.where(table.c.id > after)
        return self._conn.execute(query.order_by(table.c.id).limit(limit))
