"""Idempotent creates (AIP-155): a request id, per caller, names what it created.

Every service that accepts `request_id` keeps one such table in its own schema.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, MetaData, String, Table, insert, select

from services.runtime.sqltypes import UtcDateTime, utc_now


def request_ids_table(metadata: MetaData) -> Table:
    return Table(
        "request_ids",
        metadata,
        Column("caller", String(128), primary_key=True),
        Column("request_id", String(128), primary_key=True),
        Column("resource", String(512), nullable=False),
        Column("create_time", UtcDateTime, nullable=False),
    )


class RequestIds:
    def __init__(self, connection: Connection, table: Table) -> None:
        self._conn = connection
        self._table = table

    def resource_for(self, caller: str, request_id: str) -> str | None:
        r = self._table
        return self._conn.execute(
            select(r.c.resource).where(r.c.caller == caller, r.c.request_id == request_id)
        ).scalar()

    def remember(self, caller: str, request_id: str, resource: str) -> None:
        self._conn.execute(
            insert(self._table).values(
                caller=caller, request_id=request_id, resource=resource, create_time=utc_now()
            )
        )
