"""Outbox, sequencer, event relay and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence

import grpc
import pytest
from sqlalchemy import MetaData

from services.catalog import app as catalog_app
from services.catalog.service_layer.unit_of_work import OUTBOX
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.errors import Unavailable
from services.runtime.event_relay import EventRelay, MemoryCursor, SqlCursorStore, cursor_table
from services.runtime.outbox import OutboxEvent
from services.runtime.sqltypes import utc_now
from tests.integration.conftest import migrated


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    yield from migrated(catalog_app, settings)


def _event(aggregate: str, n: int) -> OutboxEvent:
    return OutboxEvent("work", aggregate, "UPDATED", {"n": n}, utc_now())


def test_migrations_are_idempotent_and_current(database: Database) -> None:
    migrations.upgrade(database, catalog_app.MIGRATIONS)
    assert migrations.is_current(database, catalog_app.MIGRATIONS)


def test_concurrent_writers_get_a_gapless_feed_in_per_aggregate_order(database: Database) -> None:
    def writer(aggregate: str) -> None:
        for n in range(25):
            with database.write_transaction() as conn:
                OUTBOX.add(conn, [_event(aggregate, n)])

    threads = [threading.Thread(target=writer, args=(f"a{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        OUTBOX.sequence_pending(database)
    for t in threads:
        t.join()
    while OUTBOX.sequence_pending(database):
        pass
    with database.engine.connect() as conn:
        feed = OUTBOX.read(conn, 0, 1000)
    assert [e.sequence for e in feed] == list(range(1, 101))
    for i in range(4):
        assert [e.payload["n"] for e in feed if e.aggregate_id == f"a{i}"] == list(range(25))


def test_relay_resumes_after_restart_and_redelivers_after_failure(database: Database) -> None:
    with database.write_transaction() as conn:
        OUTBOX.add(conn, [_event("w", n) for n in range(10)])
    OUTBOX.sequence_pending(database)
    cursors = cursor_table(MetaData())
    cursors.create(database.engine)

    def fetch(after: int, limit: int) -> Sequence[OutboxEvent]:
        with database.engine.connect() as conn:
            return OUTBOX.read(conn, after, limit)

    received: list[int] = []
    failures = {"left": 1}

    def handle(events: Sequence[OutboxEvent]) -> None:
        if failures["left"] and events[0].sequence > 4:
            failures["left"] -= 1
            raise RuntimeError("consumer down")
        received.extend(e.sequence for e in events)

    def relay() -> EventRelay[OutboxEvent]:
        store = SqlCursorStore(database, cursors, "test-consumer")
        return EventRelay("test", fetch, handle, lambda e: e.sequence, store, batch_size=4)

    first = relay()
    assert first.run_once() == 4
    with pytest.raises(RuntimeError):
        first.run_once()
    # A new relay (a restart) starts from the saved cursor and retries the failed batch.
    second = relay()
    while second.run_once():
        pass
    assert received == list(range(1, 11))


def test_an_upstream_outage_is_logged_once_and_its_end_noted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A peer that is down for a while (starting, restarting) gives one warning, not one
    per retry, and one line when it answers again; no event is skipped meanwhile."""
    failures_left = 5
    delivered: list[int] = []
    done = threading.Event()

    def fetch(position: int, limit: int) -> list[int]:
        nonlocal failures_left
        if failures_left:
            failures_left -= 1
            raise Unavailable("CATALOG_UNAVAILABLE", "catalog did not answer")
        return [n for n in (1, 2, 3) if n > position][:limit]

    def handle(events: Sequence[int]) -> None:
        delivered.extend(events)
        if delivered[-1] == 3:
            done.set()

    relay = EventRelay(
        "outage", fetch, handle, lambda e: e, MemoryCursor(), idle_seconds=0.01,
        max_backoff_seconds=0.02,
    )  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="licentia.relay"):
        relay.start()
        assert done.wait(10)
        relay.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "relay outage: catalog did not answer; retrying until it answers"
    ]
    assert sum("retrying in" in r.getMessage() for r in caplog.records) == 4
    assert any("upstream back after" in r.getMessage() for r in caplog.records)
    assert delivered == [1, 2, 3]


class _CutOff(grpc.RpcError):
    """What a call cut off under the relay raises (the channel or peer went away)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.CANCELLED

    def details(self) -> str:
        return "CANCELLED"


def test_a_call_cut_off_under_the_relay_is_retried_like_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No traceback in the logs for an interrupted call: a warning, a retry, and nothing
    skipped."""
    cut = [True]
    delivered: list[int] = []
    done = threading.Event()

    def fetch(position: int, limit: int) -> list[int]:
        if cut.pop() if cut else False:
            raise _CutOff()
        return [n for n in (1, 2) if n > position][:limit]

    def handle(events: Sequence[int]) -> None:
        delivered.extend(events)
        done.set()

    relay = EventRelay("cut", fetch, handle, lambda e: e, MemoryCursor(), idle_seconds=0.01)
    with caplog.at_level(logging.DEBUG, logger="licentia.relay"):
        relay.start()
        assert done.wait(10)
        relay.stop()
    assert not [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "relay cut: upstream CANCELLED: CANCELLED; retrying until it answers"
    ]
    assert delivered == [1, 2]
