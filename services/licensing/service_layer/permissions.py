"""Permission checks, answered from memory.

Every license is compiled into the PermissionIndex at start. This replica refreshes a
license as soon as its own change commits; changes made through other replicas arrive
through the license event feed, polled every `license_refresh_seconds` (the documented
bound on staleness).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.licensing.domain import vocabulary as vocab
from services.licensing.domain.licenses import License
from services.licensing.domain.permissions import Decision, Denial, PermissionIndex, WorkRef
from services.licensing.service_layer import access
from services.licensing.service_layer.unit_of_work import OUTBOX, UnitOfWorkFactory
from services.runtime import resource_names
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound, Violations
from services.runtime.event_relay import EventRelay, MemoryCursor
from services.runtime.outbox import OutboxEvent
from services.runtime.principal import Principal, Role
from services.runtime.sqltypes import utc_now

log = logging.getLogger(__name__)
MAX_BATCH_CHECKS = 1_000


@dataclass(frozen=True)
class PermissionQuery:
    vendor: str
    work: str
    use: str
    territory: str = ""
    user_type: str = ""
    at: datetime | None = None
    license: str = ""


class WorkDirectory(Protocol):
    """Where work metadata comes from (the catalog, in production)."""

    def get(self, name: str) -> WorkRef | None: ...

    def prefetch(self, names: list[str]) -> None:
        """Learn many works at once ahead of `get`s (a hint: may do nothing)."""


class PermissionService:
    def __init__(
        self, uow: UnitOfWorkFactory, works: WorkDirectory, refresh_seconds: float
    ) -> None:
        self._uow = uow
        self._works = works
        self.index = PermissionIndex()
        self._cursor = MemoryCursor()  # each replica follows the feed from where it loaded
        self._relay = EventRelay(
            "license-cache",
            self._fetch_events,
            self._apply_events,
            lambda e: e.sequence,
            self._cursor,
            idle_seconds=refresh_seconds,
        )

    def start(self) -> None:
        # Read the feed position first: events committed while loading are replayed.
        with self._uow(write=False) as uow:
            self._cursor.position = OUTBOX.last_sequence(uow.connection)
            self.index.load(uow.licenses.all())
        self._relay.start()

    def stop(self) -> None:
        self._relay.stop()

    def refresh(self, lic: License) -> None:
        self.index.put(lic)

    def check(
        self,
        p: Principal,
        vendor: str,
        work: str,
        use: str,
        territory: str,
        user_type: str,
        at: datetime | None,
        license_name: str = "",
    ) -> Decision:
        if not vendor and p.role is Role.VENDOR:
            vendor = p.account
        v = Violations()
        if not vendor:
            v.add("vendor", "required (vendors/{vendor})")
        elif not resource_names.matches(vendor, ("vendors",)):
            v.add("vendor", "must be vendors/{vendor}")
        if not resource_names.matches(work, ("publishers", "works")):
            v.add("work", "must be publishers/{publisher}/works/{work}")
        if use not in vocab.CONCRETE_USES:
            v.add("use", f"must be one of {', '.join(vocab.CONCRETE_USES)}")
        if license_name and not resource_names.matches(license_name, ("licenses",)):
            v.add("license", "must be licenses/{license}")
        if territory and territory not in vocab.COUNTRIES:
            v.add("territory", "must be an ISO 3166-1 alpha-2 country code")
        user_type = user_type or vocab.DEFAULT_USER_TYPE
        if user_type not in vocab.USER_TYPES:
            v.add("user_type", f"must be one of {', '.join(vocab.USER_TYPES)}")
        v.raise_if_any()
        publisher = work.split("/works/")[0]
        if not (p.is_trusted or p.owns(vendor) or p.owns(publisher)):
            access.trusted_only(p, "check other vendors' permissions")
        ref = self._works.get(work)
        if ref is None:
            raise NotFound("WORK_NOT_FOUND", f"{work} does not exist")
        return self.index.check(
            vendor, ref, use, territory, user_type, at or utc_now(), license_name
        )

    def check_many(self, p: Principal, queries: Sequence[PermissionQuery]) -> list[Decision]:
        """Decisions in query order; a missing work is a denial, not a failed batch."""
        if len(queries) > MAX_BATCH_CHECKS:
            raise InvalidArgument(
                "TOO_MANY_CHECKS",
                f"at most {MAX_BATCH_CHECKS} checks per call",
                [FieldViolation("requests", f"{len(queries)} given")],
            )
        self._works.prefetch(
            [q.work for q in queries if resource_names.matches(q.work, ("publishers", "works"))]
        )
        decisions = []
        for i, q in enumerate(queries):
            try:
                decisions.append(
                    self.check(
                        p, q.vendor, q.work, q.use, q.territory, q.user_type, q.at, q.license
                    )
                )
            except NotFound:
                decisions.append(
                    Decision(
                        False, denial=Denial.WORK_NOT_FOUND, explanation=f"{q.work} does not exist"
                    )
                )
            except InvalidArgument as error:
                error.violations = [
                    FieldViolation(f"requests[{i}].{v.field}", v.description)
                    for v in error.violations
                ]
                raise
        return decisions

    def _fetch_events(self, after: int, limit: int) -> list[OutboxEvent]:
        with self._uow(write=False) as uow:
            return OUTBOX.read(uow.connection, after, limit)

    def _apply_events(self, events: Sequence[OutboxEvent]) -> None:
        with self._uow(write=False) as uow:
            for event in events:
                lic = uow.licenses.get(event.aggregate_id.split("/", 1)[1])
                if lic is not None:
                    self.index.put(lic)
