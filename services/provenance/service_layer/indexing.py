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
from collections import deque
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

# Pages read ahead of the one being applied: while page N is stored, N+1 is analysed and
# N+2 read from the catalog (three stages overlapping on the cores).
READ_AHEAD_PAGES = 2


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


@dataclass(frozen=True)
class _Prepared:
    """What a page of the feed needs before its transaction, made while pages before it
    are applied: the works whose text it needs, their texts and their analysis (under
    way)."""

    changes: list[WorkChange]
    wanted: list[str]
    texts: dict[str, WorkText]
    analysed: Future[list[IndexedText]]


@dataclass(frozen=True)
class _PageAhead:
    after_sequence: int
    page: FeedPage
    prepared: _Prepared


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
        # Read-ahead (READ_AHEAD_PAGES): pages are read from the catalog in order by one
        # thread and analysed by another (which waits on the analysis processes).
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="feed-read-ahead")
        self._analyser = ThreadPoolExecutor(1, thread_name_prefix="feed-analysis")
        self._ahead: deque[Future[_PageAhead | None]] = deque()
        self._prepared: _Prepared | None = None

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
        self._analyser.shutdown(wait=False, cancel_futures=True)

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
        ahead = self._take_ahead(after_sequence)
        if ahead is None:
            page, self._prepared = self._catalog.changes(after_sequence, limit), None
        else:
            page, self._prepared = ahead.page, ahead.prepared
        self._head = max(self._head, page.head_sequence)
        self._oldest_pending = page.changes[0].occur_time if page.changes else None
        if len(page.changes) >= limit:  # more waits: read it while this page is applied
            with contextlib.suppress(RuntimeError):  # stopping: no more read-ahead
                self._read_ahead(page.changes[-1].sequence, limit)
        else:
            self._drop_ahead()
        if not page.changes:  # caught up: finish folding recent works into the main index
            self.index.settle()
        return page.changes

    def _take_ahead(self, after_sequence: int) -> _PageAhead | None:
        """The page after `after_sequence` if it was read ahead (the read-ahead is dropped
        when it was not: it followed another position, reached the feed's end, or
        failed)."""
        if not self._ahead:
            return None
        ahead: _PageAhead | None = None
        with contextlib.suppress(Exception):  # a failed read-ahead is read again here
            ahead = self._ahead.popleft().result()
        if ahead is None or ahead.after_sequence != after_sequence:
            self._drop_ahead()
            return None
        return ahead

    def _drop_ahead(self) -> None:
        while self._ahead:
            self._ahead.popleft().cancel()

    def _read_ahead(self, after_sequence: int, limit: int) -> None:
        """Keep READ_AHEAD_PAGES pages read ahead of the page that ends at
        `after_sequence`; each is read after the one before it (the reader thread takes
        them in order)."""
        before = self._ahead[-1] if self._ahead else None
        while len(self._ahead) < READ_AHEAD_PAGES:
            before = self._reader.submit(self._read_after, before, after_sequence, limit)
            self._ahead.append(before)

    def _read_after(
        self, before: Future[_PageAhead | None] | None, after_sequence: int, limit: int
    ) -> _PageAhead | None:
        """The page after the one `before` read (with no `before`: after
        `after_sequence`); None past the feed's end, where the relay asks again."""
        if before is not None:
            previous = before.result()  # done: the reader takes its tasks in order
            if previous is None or len(previous.page.changes) < limit:
                return None
            after_sequence = previous.page.changes[-1].sequence
        page = self._catalog.changes(after_sequence, limit)
        return _PageAhead(after_sequence, page, self._prepare(page.changes))

    def _prepare(self, changes: list[WorkChange]) -> _Prepared:
        """What applying `changes` needs before its transaction. Made ahead, it still
        holds when the page is applied: a work's indexed state only moves forward (a newer
        version, or deleted), so a work whose text was not needed then is not needed now,
        and a text read is at least as new as the change that asked for it; versions
        decide, under the lock, what is stored."""
        wanted = self._wanted(_latest(changes))  # a replayed page reads no text
        texts = self._catalog.texts(wanted) if wanted else {}
        bodies = [t.body for t in texts.values()]
        return _Prepared(changes, wanted, texts, self._analyser.submit(self._analyse_many, bodies))

    def _wanted(self, latest: dict[str, WorkChange]) -> list[str]:
        """The works whose text must be read: not deleted, and newer than what is indexed."""
        with self._uow(write=False) as uow:
            known = uow.index.states(latest)
        return [
            work
            for work, change in latest.items()
            if change.kind != DELETED and _needs_text(known.get(work), change.version)
        ]

    def apply(self, changes: Sequence[WorkChange]) -> None:
        with self._lock:
            self._apply(changes)
            self._last = changes[-1]

    def _apply(self, changes: Sequence[WorkChange]) -> None:
        latest = _latest(changes)
        prepared, self._prepared = self._prepared, None
        if prepared is None or prepared.changes is not changes:  # not read ahead
            prepared = self._prepare(list(changes))
        wanted, texts = set(prepared.wanted), prepared.texts
        analysed = dict(zip(texts, prepared.analysed.result(), strict=True))

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
