"""Bulk import: one batch, one transaction, one result per work.

Idempotent by the publisher's external id: a known id with the same content is
UNCHANGED, with other content UPDATED (a new version if the body changed), so a CMS
can re-send its whole archive safely.

A batch is handled in two steps so that a stream can overlap them safely: `prepare`
(access, validation, hashing and counting the bodies: no database) and `store` (one
transaction). A stream prepares the next batch while the one before it is stored; a
batch that writes a work of the one before it (the same external id or URL) is stored
only after it, and batches of different works side by side.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy.exc import IntegrityError

from services.catalog.domain.model import (
    MUTABLE_FIELDS,
    Measure,
    Work,
    WorkFields,
    canonical_url,
    measure,
    register_work,
    revise_work,
)
from services.catalog.domain.validation import check_work
from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory
from services.catalog.service_layer.works import REGISTERED, UPDATED, parse_publisher, work_event
from services.runtime import resource_names
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    LicentiaError,
    NotFound,
    Violations,
)
from services.runtime.outbox import OutboxEvent
from services.runtime.principal import Principal
from services.runtime.sqltypes import utc_now

MAX_IMPORT_BATCH = 1_000


class Outcome(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ImportResult:
    index: int
    external_id: str
    work: str
    outcome: Outcome
    error: LicentiaError | None = None


@dataclass
class _Step:
    """One batch of a stream: its keys once prepared (None if preparing failed)."""

    prepared: threading.Event = field(default_factory=threading.Event)
    keys: frozenset[str] | None = None
    future: Future[list[ImportResult]] | None = None


@dataclass
class PreparedBatch:
    """A batch checked and measured, ready for its transaction."""

    publisher_id: str
    size: int
    # index -> the work's fields and its body's measure
    valid: dict[int, tuple[WorkFields, Measure]] = field(default_factory=dict)
    # index -> the answer already known (a work that failed validation)
    results: dict[int, ImportResult] = field(default_factory=dict)

    @property
    def keys(self) -> frozenset[str]:
        """What identifies the works it writes: external ids and canonical URLs."""
        ids = {f"id:{f.external_id}" for f, _ in self.valid.values()}
        urls = {f"url:{canonical_url(f.canonical_url)}" for f, _ in self.valid.values()}
        return frozenset(ids | urls) - {"url:"}


class ImportService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def import_stream(
        self, p: Principal, batches: Iterable[tuple[str, list[WorkFields]]]
    ) -> Iterator[list[ImportResult]]:
        """A stream's batches, answered in order. While batch n is stored, batch n+1 is
        prepared; n+1 touching any work of n (an external id or a URL in both) is stored
        only once n has committed (and not at all if n failed), so a later batch's write
        to a work never lands before an earlier one's. Batches of different works (a bulk
        import of new works) are stored side by side."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="import") as pool:
            in_flight: deque[Future[list[ImportResult]]] = deque()
            previous: _Step | None = None
            for parent, items in batches:
                step = _Step()
                step.future = pool.submit(
                    contextvars.copy_context().run,  # the call's trace and principal
                    self._after,
                    previous,
                    step,
                    p,
                    parent,
                    items,
                )
                in_flight.append(step.future)
                previous = step
                if len(in_flight) == 2:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()

    def _after(
        self,
        previous: _Step | None,
        step: _Step,
        p: Principal,
        parent: str,
        items: list[WorkFields],
    ) -> list[ImportResult]:
        try:
            batch = self.prepare(p, parent, items)
            step.keys = batch.keys
        finally:
            step.prepared.set()
        if previous is not None:
            previous.prepared.wait()
            if previous.keys is None or not previous.keys.isdisjoint(batch.keys):
                assert previous.future is not None
                previous.future.result()  # committed first; if it failed, this is not stored
        return self.store(batch)

    def prepare(self, p: Principal, parent: str, items: list[WorkFields]) -> PreparedBatch:
        """Everything a batch needs before its transaction: no database access."""
        publisher_id = parse_publisher(parent)
        access.write_works(p, parent)
        if len(items) > MAX_IMPORT_BATCH:
            raise InvalidArgument(
                "BATCH_TOO_LARGE",
                f"at most {MAX_IMPORT_BATCH} works per message (got {len(items)})",
                [FieldViolation("works", f"at most {MAX_IMPORT_BATCH} entries")],
            )
        batch = PreparedBatch(publisher_id, len(items))
        seen: set[str] = set()
        for index, fields in enumerate(items):
            error = _validate(index, fields, seen)
            if error is None:
                batch.valid[index] = (fields, measure(fields.body))
                seen.add(fields.external_id)
            else:
                batch.results[index] = ImportResult(
                    index, fields.external_id, "", Outcome.FAILED, error
                )
        return batch

    def store(self, batch: PreparedBatch) -> list[ImportResult]:
        """The batch's one transaction; its results in the order of its works."""
        results = dict(batch.results)
        try:
            results.update(self._store(batch.publisher_id, batch.valid))
        except IntegrityError:
            # A concurrent import registered some of the same external ids first; on the
            # retry they are found and compared instead.
            results.update(self._store(batch.publisher_id, batch.valid))
        return [results[i] for i in range(batch.size)]

    def _store(
        self, publisher_id: str, valid: dict[int, tuple[WorkFields, Measure]]
    ) -> dict[int, ImportResult]:
        results: dict[int, ImportResult] = {}
        now = utc_now()
        with self._uow() as uow:
            if uow.accounts.get_publisher(publisher_id) is None:
                raise NotFound("PUBLISHER_NOT_FOUND", f"publishers/{publisher_id} does not exist")
            existing = uow.works.find_by_external_ids(
                publisher_id, (f.external_id for f, _ in valid.values())
            )
            owners = uow.works.url_owners(
                publisher_id, (canonical_url(f.canonical_url) for f, _ in valid.values())
            )
            claimed: set[str] = set()
            new: list[tuple[int, Work]] = []
            events: list[OutboxEvent] = []
            for index, (fields, measured) in valid.items():
                known = existing.get(fields.external_id)
                url = canonical_url(fields.canonical_url)
                holder = owners.get(url)
                if url and (
                    (holder and (known is None or holder != known[0].id)) or url in claimed
                ):
                    # A canonical URL names one live work of a publisher.
                    other = holder or "another work in this batch"
                    taken = AlreadyExists(
                        "WORK_URL_TAKEN", f"canonical_url {url[:200]!r} already names {other}"
                    )
                    results[index] = ImportResult(
                        index, fields.external_id, "", Outcome.FAILED, taken
                    )
                    continue
                claimed.add(url)
                if known is None:
                    work_id = resource_names.new_id("w")
                    new.append((index, register_work(publisher_id, work_id, fields, now, measured)))
                    continue
                work, deleted = known
                if deleted:
                    error = FailedPrecondition(
                        "WORK_DELETED",
                        f"{work.name} (external_id {fields.external_id!r}) was deleted",
                    )
                    results[index] = ImportResult(
                        index, fields.external_id, work.name, Outcome.FAILED, error
                    )
                    continue
                revised = revise_work(work, fields, MUTABLE_FIELDS, now, measured)
                if revised is None:
                    results[index] = ImportResult(
                        index, fields.external_id, work.name, Outcome.UNCHANGED
                    )
                    continue
                uow.works.update(revised, new_version=revised.version != work.version)
                events.append(work_event(UPDATED, revised, now))
                results[index] = ImportResult(index, fields.external_id, work.name, Outcome.UPDATED)
            stored = uow.works.add_many([w for _, w in new])
            for (index, _), work in zip(new, stored, strict=True):
                events.append(work_event(REGISTERED, work, now))
                results[index] = ImportResult(
                    index, work.fields.external_id, work.name, Outcome.CREATED
                )
            uow.publish(events)
            uow.commit()
        return results


def _validate(index: int, fields: WorkFields, seen: set[str]) -> InvalidArgument | None:
    v = Violations()
    prefix = f"works[{index}]"
    if not fields.external_id:
        v.add(f"{prefix}.external_id", "required for import (it makes re-runs idempotent)")
    elif fields.external_id in seen:
        v.add(f"{prefix}.external_id", "appears twice in this batch")
    check_work(fields, v, prefix)
    try:
        v.raise_if_any()
    except InvalidArgument as error:
        return error
    return None
