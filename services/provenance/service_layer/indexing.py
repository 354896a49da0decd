"""Keeping the index in step with the catalog: load at start, then follow its feed.

Each replica follows the catalog's work event feed itself (its own position in memory),
so its in-memory index learns of every change. The database writes are idempotent and
ordered by version (a version never goes back, a deletion is final), so replicas
applying the same event, or a replica replaying events after a crash, change nothing
twice. The shared cursor saved after each batch is where a new replica starts after
loading the database: events committed while it loads are replayed, harmlessly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.provenance.domain.documents import IndexedText, to_index
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.works import (
    DELETED,
    FeedPage,
    WorkChange,
    WorkState,
    WorkText,
)
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.event_relay import CursorStore, EventRelay, MemoryCursor
from services.runtime.memory import release_free_memory
from services.runtime.sqltypes import utc_now

log = logging.getLogger(__name__)


class WorkSource(Protocol):
    def changes(self, after_sequence: int, limit: int) -> FeedPage: ...
    def texts(self, works: list[str]) -> dict[str, WorkText]: ...


@dataclass(frozen=True)
class FeedPosition:
    sequence: int
    change: WorkChange | None
    # The newest position the catalog's feed held when last asked.
    head_sequence: int = 0
    # When the oldest change not applied yet happened in the catalog (None: none waits).
    oldest_pending: datetime | None = None

    @property
    def works_behind(self) -> int:
        """Work changes the catalog has made that this replica has not applied yet."""
        return max(0, self.head_sequence - self.sequence)

    def seconds_behind(self, now: datetime) -> float:
        """How long the oldest change not applied yet has been waiting."""
        if not self.works_behind or self.oldest_pending is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending).total_seconds())


class _ReplicaCursor(MemoryCursor):
    """This replica's position in memory; the shared one saved for replicas to come."""

    def __init__(self, shared: CursorStore) -> None:
        super().__init__()
        self._shared = shared

    def save(self, position: int) -> None:
        self._shared.save(position)
        super().save(position)


class IndexingService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        catalog: WorkSource,
        index: FingerprintIndex,
        shared_cursor: CursorStore,
        poll_seconds: float,
        analyse_many: Callable[[list[str]], list[IndexedText]] | None = None,
    ) -> None:
        self._uow = uow
        # How works' texts are analysed: in this process, or split across worker processes.
        self._analyse_many = analyse_many or (lambda bodies: [to_index(b) for b in bodies])
        self._catalog = catalog
        self.index = index
        self._shared_cursor = shared_cursor
        self._cursor = _ReplicaCursor(shared_cursor)
        self._head = 0
        self._oldest_pending: datetime | None = None
        self._relay = EventRelay(
            "catalog-works",
            self._fetch,
            self.apply,
            lambda change: change.sequence,
            self._cursor,
            idle_seconds=poll_seconds,
        )
        self._last: WorkChange | None = None
        self._lock = threading.Lock()
        # Read-ahead: while a full page is being applied, the next page and its texts are
        # read from the catalog (its work and ours then overlap, on two cores).
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="feed-read-ahead")
        self._ahead: tuple[int, Future[tuple[FeedPage, dict[str, WorkText]]]] | None = None
        self._texts_ahead: dict[str, WorkText] = {}

    def load(self) -> None:
        """Fill memory from the database; the feed is then followed from the saved cursor."""
        position = self._shared_cursor.load()  # first: what commits meanwhile is replayed
        with self._uow(write=False) as uow:
            self.index.load(uow.index.current_fingerprints())
        release_free_memory()
        self._cursor.position = position
        stats = self.index.stats()
        log.info(
            "index loaded: %d works, %d fingerprints, feed position %d",
            stats.documents,
            stats.fingerprints,
            position,
        )

    def start(self) -> None:
        self._relay.start()

    def stop(self) -> None:
        self._relay.stop()
        self._reader.shutdown(wait=False, cancel_futures=True)

    def catch_up(self, batches: int | None = None) -> int:
        """Apply everything the feed holds now, or its next `batches` batches (tests,
        tools); returns events applied."""
        total = 0
        while (batches is None or batches > 0) and (applied := self._relay.run_once()):
            total += applied
            batches = None if batches is None else batches - 1
        return total

    @property
    def position(self) -> FeedPosition:
        return FeedPosition(self._cursor.position, self._last, self._head, self._oldest_pending)

    def _fetch(self, after_sequence: int, limit: int) -> list[WorkChange]:
        ahead, self._ahead = self._ahead, None
        page: FeedPage | None = None
        texts: dict[str, WorkText] = {}
        if ahead is not None and ahead[0] == after_sequence:
            with contextlib.suppress(Exception):  # a failed read-ahead is read again here
                page, texts = ahead[1].result()
        if page is None:
            page = self._catalog.changes(after_sequence, limit)
        self._texts_ahead = texts
        self._head = max(self._head, page.head_sequence)
        self._oldest_pending = page.changes[0].occur_time if page.changes else None
        if len(page.changes) >= limit:  # more waits: read it while this page is applied
            after = page.changes[-1].sequence
            with contextlib.suppress(RuntimeError):  # stopping: no more read-ahead
                self._ahead = (after, self._reader.submit(self._read_ahead, after, limit))
        return page.changes

    def _read_ahead(self, after_sequence: int, limit: int) -> tuple[FeedPage, dict[str, WorkText]]:
        page = self._catalog.changes(after_sequence, limit)
        wanted = self._wanted(_latest(page.changes))  # a replayed page reads no text
        return page, self._catalog.texts(wanted) if wanted else {}

    def _wanted(self, latest: dict[str, WorkChange]) -> list[str]:
        """The works whose text must be read: not deleted, and newer than what is indexed."""
        with self._uow(write=False) as uow:
            known = uow.index.states(latest)
        return [
            work
            for work, change in latest.items()
            if change.kind != DELETED and _needs_text(known.get(work), change.version)
        ]

    def _texts(self, wanted: list[str]) -> dict[str, WorkText]:
        """Current texts of the works: read ahead, or now. (A text read ahead is at least
        as new as the event that asked for it; versions decide what is indexed.)"""
        ready = self._texts_ahead
        texts = {w: ready[w] for w in wanted if w in ready}
        rest = [w for w in wanted if w not in ready]
        if rest:
            texts.update(self._catalog.texts(rest))
        return texts

    def apply(self, changes: Sequence[WorkChange]) -> None:
        with self._lock:
            self._apply(changes)
            self._last = changes[-1]

    def _apply(self, changes: Sequence[WorkChange]) -> None:
        latest = _latest(changes)
        wanted = self._wanted(latest)
        texts = self._texts(wanted) if wanted else {}
        analysed = dict(
            zip(texts, self._analyse_many([t.body for t in texts.values()]), strict=True)
        )

        now = utc_now()
        with self._uow() as uow:
            states = uow.index.states(latest, lock=True, now=now)  # locked until commit
            new: list[tuple[str, int]] = []
            gone: list[str] = []
            for work, change in latest.items():
                state = states[work]
                if state.deleted:
                    continue
                if change.kind == DELETED or (work in wanted and work not in texts):
                    gone.append(work)
                elif work in texts and texts[work].version > state.version:
                    new.append((work, texts[work].version))
            # One statement for all new documents, one for all state changes.
            prints = {work: analysed[work].fingerprints for work, _ in new}
            ids = uow.index.add_documents(
                [(work, version, analysed[work]) for work, version in new], now
            )
            written = {doc: prints[work] for (work, _), doc in zip(new, ids, strict=True)}
            for (work, version), doc in zip(new, ids, strict=True):
                states[work] = WorkState(work, version, doc, False)
            for work in gone:
                states[work] = WorkState(work, states[work].version, None, True)
            uow.index.set_states(
                [(states[work], latest[work].sequence) for work in [*gone, *(w for w, _ in new)]],
                now,
            )
            # What memory must now hold for these works, whoever wrote it.
            current = {s.document_id for s in states.values() if s.document_id is not None}
            every = uow.index.document_ids(latest)
            missing = [d for d in current if d not in written and not self.index.is_live(d)]
            added = [*written.items(), *uow.index.fingerprints(missing)]
            uow.commit()
        removed = [d for ids in every.values() for d in ids if d not in current]
        self.index.apply(added, removed)


def _latest(changes: Sequence[WorkChange]) -> dict[str, WorkChange]:
    """Each work's last change in the batch (a deletion is final)."""
    latest: dict[str, WorkChange] = {}
    for change in changes:
        previous = latest.get(change.work)
        if previous is None or previous.kind != DELETED:
            latest[change.work] = change
    return latest


def _needs_text(state: WorkState | None, version: int) -> bool:
    return state is None or (not state.deleted and state.version < version)
