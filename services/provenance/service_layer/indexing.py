"""Keeping the index in step with the catalog: load at start, then follow its feed.

Each replica follows the catalog's work event feed itself (its own position in memory),
so its in-memory index learns of every change. The database writes are idempotent and
ordered by version (a version never goes back, a deletion is final), so replicas
applying the same event, or a replica replaying events after a crash, change nothing
twice. The shared cursor saved after each batch is where a new replica starts after
loading the database: events committed while it loads are replayed, harmlessly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.provenance.domain.documents import analyse
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
    ) -> None:
        self._uow = uow
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
        page = self._catalog.changes(after_sequence, limit)
        self._head = max(self._head, page.head_sequence)
        self._oldest_pending = page.changes[0].occur_time if page.changes else None
        return page.changes

    def apply(self, changes: Sequence[WorkChange]) -> None:
        with self._lock:
            self._apply(changes)
            self._last = changes[-1]

    def _apply(self, changes: Sequence[WorkChange]) -> None:
        latest: dict[str, WorkChange] = {}
        for change in changes:
            previous = latest.get(change.work)
            if previous is None or previous.kind != DELETED:  # a deletion is final
                latest[change.work] = change
        with self._uow(write=False) as uow:
            known = uow.index.states(latest)
        wanted = [
            work
            for work, change in latest.items()
            if change.kind != DELETED and _needs_text(known.get(work), change.version)
        ]
        texts = self._catalog.texts(wanted) if wanted else {}
        analysed = {work: analyse(text.body) for work, text in texts.items()}

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
            prints = {work: analysed[work].fingerprints() for work, _ in new}
            ids = uow.index.add_documents(
                [(work, version, analysed[work], prints[work]) for work, version in new], now
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


def _needs_text(state: WorkState | None, version: int) -> bool:
    return state is None or (not state.deleted and state.version < version)
