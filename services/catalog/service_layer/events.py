"""Reading the catalog's outbox feed (for provenance and other consumers)."""

from __future__ import annotations

from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import OUTBOX, UnitOfWorkFactory
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.outbox import OutboxEvent
from services.runtime.principal import Principal

DEFAULT_EVENTS_PAGE = 500
MAX_EVENTS_PAGE = 1_000


class EventFeedService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def list_events(self, p: Principal, after_sequence: int, page_size: int) -> list[OutboxEvent]:
        access.trusted_only(p, "read the work event feed")
        if after_sequence < 0 or page_size < 0:
            field = "after_sequence" if after_sequence < 0 else "page_size"
            raise InvalidArgument(
                "INVALID_PAGE",
                f"{field} must not be negative",
                [FieldViolation(field, "must be >= 0")],
            )
        size = min(page_size or DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)
        with self._uow(write=False) as uow:
            return OUTBOX.read(uow.connection, after_sequence, size)
