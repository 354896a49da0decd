"""Bulk import: one batch, one transaction, one result per work.

Idempotent by the publisher's external id: a known id with the same content is
UNCHANGED, with other content UPDATED (a new version if the body changed), so a CMS
can re-send its whole archive safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy.exc import IntegrityError

from services.catalog.domain.model import (
    MUTABLE_FIELDS,
    Work,
    WorkFields,
    register_work,
    revise_work,
)
from services.catalog.domain.validation import check_work
from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory
from services.catalog.service_layer.works import REGISTERED, UPDATED, parse_publisher, work_event
from services.runtime import resource_names
from services.runtime.errors import (
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


class ImportService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def import_batch(
        self, p: Principal, parent: str, items: list[WorkFields]
    ) -> list[ImportResult]:
        publisher_id = parse_publisher(parent)
        access.write_works(p, parent)
        if len(items) > MAX_IMPORT_BATCH:
            raise InvalidArgument(
                "BATCH_TOO_LARGE",
                f"at most {MAX_IMPORT_BATCH} works per message (got {len(items)})",
                [FieldViolation("works", f"at most {MAX_IMPORT_BATCH} entries")],
            )
        results: dict[int, ImportResult] = {}
        valid: dict[int, WorkFields] = {}
        seen: set[str] = set()
        for index, fields in enumerate(items):
            error = _validate(index, fields, seen)
            if error is None:
                valid[index] = fields
                seen.add(fields.external_id)
            else:
                results[index] = ImportResult(index, fields.external_id, "", Outcome.FAILED, error)
        try:
            results.update(self._store(publisher_id, valid))
        except IntegrityError:
            # A concurrent import registered some of the same external ids first; on the
            # retry they are found and compared instead.
            results.update(self._store(publisher_id, valid))
        return [results[i] for i in range(len(items))]

    def _store(self, publisher_id: str, valid: dict[int, WorkFields]) -> dict[int, ImportResult]:
        results: dict[int, ImportResult] = {}
        now = utc_now()
        with self._uow() as uow:
            if uow.accounts.get_publisher(publisher_id) is None:
                raise NotFound("PUBLISHER_NOT_FOUND", f"publishers/{publisher_id} does not exist")
            existing = uow.works.find_by_external_ids(
                publisher_id, (f.external_id for f in valid.values())
            )
            new: list[tuple[int, Work]] = []
            events: list[OutboxEvent] = []
            for index, fields in valid.items():
                known = existing.get(fields.external_id)
                if known is None:
                    new.append(
                        (
                            index,
                            register_work(publisher_id, resource_names.new_id("w"), fields, now),
                        )
                    )
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
                revised = revise_work(work, fields, MUTABLE_FIELDS, now)
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
