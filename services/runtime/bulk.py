"""Many rows into one table, in the caller's transaction: COPY on PostgreSQL (several
times faster than bound multi-row INSERTs for tens of thousands of rows), SQLAlchemy's
batched executemany elsewhere."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import JSON, Connection, Table, insert


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    as_json = [isinstance(c.type, JSON) for c in columns]
    names = ", ".join(f'"{c.name}"' for c in columns)
    driver = conn.connection.dbapi_connection
    assert isinstance(driver, psycopg.Connection)
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c.name]) if encode else row[c.name]
                    for c, encode in zip(columns, as_json, strict=True)
                ]
            )
