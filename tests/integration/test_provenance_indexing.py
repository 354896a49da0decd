"""Indexing from the work feed into the real database (SQLite and PostgreSQL):
idempotent events, a crash mid-batch replayed, a rebuild equal to incremental indexing."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from services.provenance import app as provenance_app
from services.provenance.adapters import tables
from services.provenance.adapters.analysis_pool import AnalysisPool
from services.provenance.domain import fingerprint_index
from services.provenance.domain.documents import IndexedText, analyse, to_index
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.works import FeedPage, WorkChange, WorkText
from services.provenance.service_layer.indexing import IndexingService
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.database import Database
from services.runtime.event_relay import SqlCursorStore
from services.samples.articles import ArticleGenerator

GENERATOR = ArticleGenerator(seed=21)


class FakeCatalog:
    """The catalog's feed and texts, in memory."""

    def __init__(self) -> None:
        self.events: list[WorkChange] = []
        self.current: dict[str, WorkText] = {}
        self.fail_texts = False

    def changes(self, after_sequence: int, limit: int) -> FeedPage:
        page = [e for e in self.events if e.sequence > after_sequence][:limit]
        return FeedPage(page, len(self.events))

    def texts(self, works: list[str]) -> dict[str, WorkText]:
        if self.fail_texts:
            raise ConnectionError("catalog unreachable")
        return {w: self.current[w] for w in works if w in self.current}

    def register(self, work: str, body: str) -> None:
        version = self.current[work].version + 1 if work in self.current else 1
        self.current[work] = WorkText(work, version, body)
        kind = "REGISTERED" if version == 1 else "UPDATED"
        self.events.append(WorkChange(len(self.events) + 1, kind, work, version, None))

    def delete(self, work: str) -> None:
        version = self.current.pop(work).version
        self.events.append(WorkChange(len(self.events) + 1, "DELETED", work, version, None))


def indexer(
    database: Database,
    catalog: FakeCatalog,
    analyse_many: Callable[[list[str]], list[IndexedText]] | None = None,
) -> IndexingService:
    service = IndexingService(
        UnitOfWorkFactory(database),
        catalog,
        FingerprintIndex(),
        SqlCursorStore(database, tables.event_cursors, "catalog-works"),
        poll_seconds=0.05,
        analyse_many=analyse_many,
    )
    service.load()
    return service


def postings(index: FingerprintIndex, bodies: list[str]) -> list[tuple[int, int]]:
    grams = np.concatenate([analyse(b).grams for b in bodies])
    hits = index.lookup(grams)
    return sorted(zip(hits.query_positions.tolist(), hits.docs.tolist(), strict=True))


def counts(index: FingerprintIndex) -> tuple[int, int]:
    stats = index.stats()
    return stats.documents, stats.fingerprints


def test_events_applied_twice_change_nothing(database: Database) -> None:
    catalog = FakeCatalog()
    bodies = [GENERATOR.text(150) for _ in range(5)]
    for i, body in enumerate(bodies):
        catalog.register(f"publishers/p/works/w{i}", body)
    service = indexer(database, catalog)
    assert service.catch_up() == 5
    before = (counts(service.index), postings(service.index, bodies))

    service.apply(catalog.events)  # the whole feed again, as after a crash
    service.apply(catalog.events[2:4])
    assert (counts(service.index), postings(service.index, bodies)) == before


def test_updates_and_deletions_in_one_batch_end_in_the_final_state(database: Database) -> None:
    catalog = FakeCatalog()
    old, new, gone = GENERATOR.text(120), GENERATOR.text(120), GENERATOR.text(120)
    catalog.register("publishers/p/works/a", old)
    catalog.register("publishers/p/works/b", gone)
    catalog.register("publishers/p/works/a", new)
    catalog.delete("publishers/p/works/b")
    service = indexer(database, catalog)
    service.catch_up()

    assert service.index.stats().documents == 1
    assert postings(service.index, [old]) == []
    assert postings(service.index, [gone]) == []
    assert postings(service.index, [new])
    with UnitOfWorkFactory(database)(write=False) as uow:
        states = uow.index.states(["publishers/p/works/a", "publishers/p/works/b"])
    assert states["publishers/p/works/a"].version == 2
    assert states["publishers/p/works/b"].deleted


def test_a_failed_batch_is_retried_and_loses_nothing(database: Database) -> None:
    catalog = FakeCatalog()
    bodies = [GENERATOR.text(120) for _ in range(3)]
    for i, body in enumerate(bodies):
        catalog.register(f"publishers/p/works/w{i}", body)
    service = indexer(database, catalog)
    catalog.fail_texts = True
    with pytest.raises(ConnectionError):
        service.catch_up()
    assert service.position.sequence == 0  # the cursor did not move
    catalog.fail_texts = False
    assert service.catch_up() == 3
    assert service.index.stats().documents == 3


def test_a_rebuild_from_the_database_equals_incremental_indexing(database: Database) -> None:
    catalog = FakeCatalog()
    bodies = {f"publishers/p/works/w{i}": GENERATOR.text(100 + 10 * i) for i in range(12)}
    for work, body in bodies.items():
        catalog.register(work, body)
    live = incremental = indexer(database, catalog)
    live.catch_up()
    catalog.register("publishers/p/works/w3", GENERATOR.text(90))
    catalog.delete("publishers/p/works/w7")
    live.catch_up()

    rebuilt = indexer(database, catalog)  # a new replica: loads what the database holds
    assert rebuilt.position.sequence == len(catalog.events)
    assert rebuilt.catch_up() == 0
    everything = [*bodies.values(), catalog.current["publishers/p/works/w3"].body]
    assert counts(rebuilt.index) == counts(incremental.index)
    assert postings(rebuilt.index, everything) == postings(incremental.index, everything)


def test_two_replicas_following_the_same_feed_agree(database: Database) -> None:
    catalog = FakeCatalog()
    first, second = indexer(database, catalog), indexer(database, catalog)
    bodies = [GENERATOR.text(100) for _ in range(4)]
    for i, body in enumerate(bodies):
        catalog.register(f"publishers/p/works/w{i}", body)
    first.catch_up()
    catalog.delete("publishers/p/works/w0")
    catalog.register("publishers/p/works/w1", GENERATOR.text(100))
    second.catch_up()  # sees everything at once, most of it already written by `first`
    first.catch_up()
    assert counts(first.index) == counts(second.index)
    assert postings(first.index, bodies) == postings(second.index, bodies)


def test_migration_0002_rebuilds_stored_fingerprints_from_the_stored_words(
    settings: Settings,
) -> None:
    """A database indexed under the 5-gram scheme comes out of the upgrade with exactly
    the fingerprints indexing would give today, so a restarted replica finds reworded
    excerpts in works it indexed before."""
    database = provenance_app.open_database(settings)
    try:
        migrations.upgrade(database, provenance_app.MIGRATIONS, "0001")
        catalog = FakeCatalog()
        bodies = [GENERATOR.text(150 + i) for i in range(5)]
        for i, body in enumerate(bodies):
            catalog.register(f"publishers/p/works/m{i}", body)
        old = indexer(database, catalog)
        old.catch_up()
        with database.write_transaction() as conn:  # as the old scheme stored them
            conn.execute(tables.documents.update().values(fingerprints=b"\x00" * 20))
        migrations.upgrade(database, provenance_app.MIGRATIONS)

        replica = indexer(database, catalog)
        with database.engine.connect() as conn:
            stored = dict(conn.execute(
                select(tables.documents.c.id, tables.documents.c.fingerprints)
            ).all())  # fmt: skip
        assert len(stored) == len(bodies)
        assert sorted(bytes(f) for f in stored.values()) == sorted(
            analyse(b).fingerprints().to_bytes() for b in bodies
        )
        assert counts(replica.index) == counts(old.index)
    finally:
        database.dispose()


def test_the_lag_behind_the_catalog_is_known_while_catching_up(database: Database) -> None:
    catalog = FakeCatalog()
    for i in range(1_200):
        catalog.register(f"publishers/p/works/lag{i}", GENERATOR.text(40))
    waiting_since = datetime.now(UTC) - timedelta(seconds=90)
    catalog.events = [replace(e, occur_time=waiting_since) for e in catalog.events]
    service = indexer(database, catalog)

    assert service.catch_up(batches=1) == 500
    position = service.position
    assert (position.sequence, position.head_sequence, position.works_behind) == (500, 1_200, 700)
    assert 90 <= position.seconds_behind(datetime.now(UTC)) < 120

    service.catch_up()
    position = service.position
    assert position.works_behind == 0 and position.seconds_behind(datetime.now(UTC)) == 0
    assert service.index.stats().documents == 1_200


def test_a_replica_that_has_caught_up_finishes_folding_recent_works_into_main(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprint_index, "MIN_DELTA_MERGE", 1_000)  # fold after a batch
    monkeypatch.setattr(fingerprint_index, "FOLD_PACE", 0)  # a step per batch
    monkeypatch.setattr(fingerprint_index, "_MIN_STEP", 1)
    catalog = FakeCatalog()
    for i in range(1_100):
        catalog.register(f"publishers/p/works/fold{i}", GENERATOR.text(60))
    service = indexer(database, catalog)
    assert service.catch_up(batches=2) == 1_000
    assert service.index._state.folding is not None  # a fold under way
    assert service.catch_up() == 100
    assert service.index._state.folding is None  # the drained feed let it finish
    bodies = [text.body for text in catalog.current.values()]
    fresh = indexer(database, catalog)  # loads everything as one main
    assert postings(service.index, bodies) == postings(fresh.index, bodies)


def test_works_analysed_in_worker_processes_index_as_in_process(tmp_path: Path) -> None:
    """(Analysis does not touch the database: one store is enough.)"""
    catalog = FakeCatalog()
    bodies = [GENERATOR.text(200 + i) for i in range(120)]
    for i, body in enumerate(bodies):
        catalog.register(f"publishers/p/works/pool{i}", body)
    before = {p.pid for p in multiprocessing.active_children()}
    pool = AnalysisPool(2)
    # Its workers start with it (a replica), not with the first batch of a bulk import.
    assert len({p.pid for p in multiprocessing.active_children()} - before) == 2
    databases = [
        provenance_app.open_database(Settings(data_dir=tmp_path / name))
        for name in ("inline", "pooled")
    ]
    try:
        services = []
        for database, analyse_many in zip(databases, (None, pool.analyse), strict=True):
            migrations.upgrade(database, provenance_app.MIGRATIONS)
            service = indexer(database, catalog, analyse_many)
            assert service.catch_up() == len(bodies)
            services.append(service)
        inline, pooled = services
        assert counts(pooled.index) == counts(inline.index) == (120, counts(inline.index)[1])
        assert postings(pooled.index, bodies) == postings(inline.index, bodies)
    finally:
        pool.close()
        for database in databases:
            database.dispose()


def test_while_a_page_is_applied_the_next_is_analysed_and_the_one_after_read(
    database: Database,
) -> None:
    class Recording(FakeCatalog):
        def __init__(self) -> None:
            super().__init__()
            self.readers: list[str] = []
            self.three_read = threading.Event()

        def texts(self, works: list[str]) -> dict[str, WorkText]:
            self.readers.append(threading.current_thread().name)
            if len(self.readers) == 3:
                self.three_read.set()
            return super().texts(works)

    catalog = Recording()
    for i in range(1_200):
        catalog.register(f"publishers/p/works/ahead{i}", GENERATOR.text(40))
    catalog.delete("publishers/p/works/ahead700")  # in the second page, after its text
    analysers: list[str] = []
    waited: list[bool] = []

    def analyse_many(bodies: list[str]) -> list[IndexedText]:
        analysers.append(threading.current_thread().name)
        if len(analysers) == 1:  # page one: pages two and three are read meanwhile
            waited.append(catalog.three_read.wait(10))
        return [to_index(body) for body in bodies]

    service = indexer(database, catalog, analyse_many)
    assert service.catch_up() == 1_201
    assert waited == [True]
    # Pages two and three were read ahead with their texts; here, only page one's. The
    # work deleted before its text was read is not asked for again: the catalog's answer
    # without it already said it is gone.
    ahead = [r for r in catalog.readers if r.startswith("feed-read-ahead")]
    assert len(ahead) == 2 and len(catalog.readers) == 3
    assert len(analysers) == 3 and all(a.startswith("feed-analysis") for a in analysers)
    assert service.index.stats().documents == 1_199
    service.stop()
