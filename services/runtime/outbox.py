"""The transactional outbox: events written in the same transaction as the change.

Writers insert rows with no sequence. The sequencer (one per database: a PostgreSQL
advisory lock elects it among replicas) numbers committed rows in id order. Readers
page through the feed by sequence, so an event that commits late gets a later number
instead of being skipped by a reader that has already moved past its id. Writes to one
aggregate are serialised by its own row lock, which keeps per-aggregate order.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from services.runtime.database import Database
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.sqltypes import AutoIncrementId, UtcDateTime, utc_now

log = logging.getLogger("licentia.outbox")
DEFAULT_FEED_PAGE = 500
MAX_FEED_PAGE = 1_000


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
        Column("sequence", BigInteger, nullable=True, unique=True),
        Column("aggregate_type", String(64), nullable=False),
        Column("aggregate_id", String(255), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("payload", Text, nullable=False),
        Column("occurred_at", UtcDateTime, nullable=False),
    )
    # The sequencer scans only what is left to number.
    Index(
        "outbox_unsequenced",
        table.c.id,
        postgresql_where=table.c.sequence.is_(None),
        sqlite_where=table.c.sequence.is_(None),
    )
    return table


@dataclass(frozen=True)
class OutboxEvent:
    aggregate_type: str
    aggregate_id: str
    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime
    sequence: int = 0


class Outbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, connection: Connection, events: list[OutboxEvent]) -> None:
        if events:
            connection.execute(
                insert(self.table),
                [
                    {
                        "aggregate_type": e.aggregate_type,
                        "aggregate_id": e.aggregate_id,
                        "event_type": e.event_type,
                        "payload": json.dumps(e.payload, sort_keys=True),
                        "occurred_at": e.occurred_at,
                    }
                    for e in events
                ],
            )

    def read(self, connection: Connection, after_sequence: int, limit: int) -> list[OutboxEvent]:
        t = self.table
        rows = connection.execute(
            select(t).where(t.c.sequence > after_sequence).order_by(t.c.sequence).limit(limit)
        )
        return [
            OutboxEvent(
                r.aggregate_type,
                r.aggregate_id,
                r.event_type,
                json.loads(r.payload),
                r.occurred_at,
                r.sequence,
            )
            for r in rows
        ]

    def read_page(
        self, connection: Connection, after_sequence: int, page_size: int
    ) -> list[OutboxEvent]:
        """A page of the feed as an API serves it: bad paging is INVALID_ARGUMENT."""
        if after_sequence < 0 or page_size < 0:
            field = "after_sequence" if after_sequence < 0 else "page_size"
            raise InvalidArgument(
                "INVALID_PAGE", f"{field} must not be negative", [FieldViolation(field, ">= 0")]
            )
        size = min(page_size or DEFAULT_FEED_PAGE, MAX_FEED_PAGE)
        return self.read(connection, after_sequence, size)

    def backlog(self, database: Database) -> int:
        """Committed events not numbered yet: what consumers cannot see yet."""
        t = self.table
        with database.engine.connect() as conn:
            query = select(func.count()).select_from(t).where(t.c.sequence.is_(None))
            return int(conn.execute(query).scalar_one())

    def last_sequence(self, connection: Connection) -> int:
        """Where a reader that wants only new events starts."""
        t = self.table
        return int(
            connection.execute(select(func.coalesce(func.max(t.c.sequence), 0))).scalar_one()
        )

    def sequence_pending(self, database: Database, batch: int = 5000) -> int:
        """Number committed, unnumbered events in id order. Returns how many it numbered."""
        t = self.table
        with database.write_transaction() as conn:
            if database.is_postgres:
                key = zlib.crc32(f"{database.schema}.outbox".encode())
                if not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}
                ).scalar():
                    return 0  # another replica is the sequencer right now
            last = conn.execute(select(func.coalesce(func.max(t.c.sequence), 0))).scalar_one()
            # One statement numbers the whole batch in id order (UPDATE ... FROM works on
            # PostgreSQL and SQLite >= 3.33); a row-by-row update cost as much as the import.
            numbered = (
                select(t.c.id, (last + func.row_number().over(order_by=t.c.id)).label("seq"))
                .where(t.c.sequence.is_(None))
                .order_by(t.c.id)
                .limit(batch)
                .subquery()
            )
            result = conn.execute(
                update(t).where(t.c.id == numbered.c.id).values(sequence=numbered.c.seq)
            )
            return int(result.rowcount or 0)

    def prune(self, database: Database, retention: timedelta) -> int:
        t = self.table
        with database.write_transaction() as conn:
            result = conn.execute(
                delete(t).where(t.c.sequence.is_not(None), t.c.occurred_at < utc_now() - retention)
            )
        return int(result.rowcount or 0)


class OutboxSequencer:
    """Background thread numbering outbox events; `wake()` after a commit cuts latency."""

    def __init__(
        self,
        outbox: Outbox,
        database: Database,
        interval_seconds: float = 0.2,
        retention: timedelta = timedelta(days=35),
    ) -> None:
        self._outbox = outbox
        self._database = database
        self._interval = interval_seconds
        self._retention = retention
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-sequencer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        passes = 0
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                while self._outbox.sequence_pending(self._database) and not self._stopping.is_set():
                    pass
                passes += 1
                if passes % 18_000 == 0:  # about hourly at the default interval
                    self._outbox.prune(self._database, self._retention)
            except Exception:  # keep numbering after a transient database failure
                log.exception("outbox sequencing failed; retrying")
                self._stopping.wait(1.0)


def backlog_gauge(outbox: Outbox, database: Database) -> dict[str, tuple[str, Any]]:
    """The outbox backlog as a service gauge (ServiceApp.gauges)."""
    return {
        "licentia_outbox_backlog": (
            "Committed outbox events not yet numbered for consumers",
            lambda: float(outbox.backlog(database)),
        )
    }
