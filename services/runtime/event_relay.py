"""Consuming another service's outbox feed: at least once, in feed order, resumable.

The relay fetches events after its saved cursor, hands each batch to an idempotent
handler, then saves the cursor. A crash between the two re-delivers the batch, which
the handler must tolerate; nothing is skipped. A failing handler is retried with
backoff and never skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import grpc
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select, update

from services.runtime.database import Database, upsert_into
from services.runtime.errors import Unavailable
from services.runtime.sqltypes import UtcDateTime, utc_now

log = logging.getLogger("licentia.relay")
Event = TypeVar("Event")


class CursorStore(Protocol):
    def load(self) -> int: ...
    def save(self, position: int) -> None: ...


class MemoryCursor:
    """A position kept in memory: for consumers that rebuild their state at start (caches
    of another service's data) and so have nothing to persist."""

    def __init__(self, position: int = 0) -> None:
        self.position = position

    def load(self) -> int:
        return self.position

    def save(self, position: int) -> None:
        self.position = position


def cursor_table(metadata: MetaData) -> Table:
    return Table(
        "event_cursors",
        metadata,
        Column("consumer", String(128), primary_key=True),
        Column("position", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )


class SqlCursorStore:
    def __init__(self, database: Database, table: Table, consumer: str) -> None:
        self._database = database
        self._table = table
        self._consumer = consumer

    def load(self) -> int:
        with self._database.engine.connect() as conn:
            value = conn.execute(
                select(self._table.c.position).where(self._table.c.consumer == self._consumer)
            ).scalar()
        return int(value or 0)

    def save(self, position: int) -> None:
        t = self._table
        with self._database.write_transaction() as conn:
            conn.execute(
                upsert_into(conn, t)
                .values(consumer=self._consumer, position=position, updated_at=utc_now())
                .on_conflict_do_nothing()
            )
            # Never move backwards, even if two relays race.
            conn.execute(
                update(t)
                .where(t.c.consumer == self._consumer, t.c.position < position)
                .values(position=position, updated_at=utc_now())
            )


class EventRelay(Generic[Event]):
    def __init__(
        self,
        name: str,
        fetch: Callable[[int, int], Sequence[Event]],
        handle: Callable[[Sequence[Event]], None],
        position_of: Callable[[Event], int],
        cursor: CursorStore,
        batch_size: int = 500,
        idle_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self._fetch = fetch
        self._handle = handle
        self._position_of = position_of
        self._cursor = cursor
        self._batch_size = batch_size
        self._idle = idle_seconds
        self._max_backoff = max_backoff_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"relay-{name}", daemon=True)

    def run_once(self) -> int:
        """Deliver one batch; returns how many events were delivered."""
        position = self._cursor.load()
        events = self._fetch(position, self._batch_size)
        if not events or self._stopping.is_set():
            return 0
        self._handle(events)
        self._cursor.save(self._position_of(events[-1]))
        return len(events)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Wait for the batch in hand (its calls have deadlines): the caller closes the
        channels next, and a channel must not close under a call being made."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self._idle
        outage_since: float | None = None
        while not self._stopping.is_set():
            try:
                delivered = self.run_once()
                if outage_since is not None:
                    log.info(
                        "relay %s: upstream back after %.0f s",
                        self.name,
                        time.monotonic() - outage_since,
                    )
                    outage_since = None
                backoff = self._idle
                if delivered < self._batch_size:
                    self._stopping.wait(self._idle)
            except Exception as error:  # retry the same batch; never skip an event
                if self._stopping.is_set():
                    return  # shutting down: the batch is sent again by the next start
                reason = _upstream_unavailable(error)
                if reason is None:
                    log.exception("relay %s failed; retrying in %.1fs", self.name, backoff)
                elif outage_since is None:  # expected while a peer starts or stops: said once
                    outage_since = time.monotonic()
                    log.warning("relay %s: %s; retrying until it answers", self.name, reason)
                else:
                    log.debug("relay %s: %s; retrying in %.1fs", self.name, reason, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)


def _upstream_unavailable(error: Exception) -> str | None:
    """One line saying why the upstream did not answer, or None for any other failure."""
    if isinstance(error, Unavailable):
        return error.message
    # CANCELLED reaches a relay that is not stopping only when the call was cut off
    # under it (a peer or a channel going away): an interruption, retried like an outage.
    if isinstance(error, grpc.RpcError) and error.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
    ):
        return f"upstream {error.code().name}: {error.details()}"
    return None
