"""Reading the catalog's outbox feed (for provenance and other consumers)."""

from __future__ import annotations

from services.catalog.service_layer import access
from services.catalog.service_layer.unit_of_work import OUTBOX, UnitOfWorkFactory
from services.runtime.outbox import OutboxEvent
from services.runtime.principal import Principal


class EventFeedService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def list_events(
        self, p: Principal, after_sequence: int, page_size: int
    ) -> tuple[list[OutboxEvent], int]:
        """A page of events after `after_sequence`, and the newest sequence now."""
        access.trusted_only(p, "read the work event feed")
        with self._uow(write=False) as uow:
            events = OUTBOX.read_page(uow.connection, after_sequence, page_size)
            full = events and len(events) >= (page_size or 1)
            head = OUTBOX.last_sequence(uow.connection) if full else None
        last = events[-1].sequence if events else after_sequence
        return events, max(head or 0, last)
