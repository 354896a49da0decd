"""Every recorded content delivery becomes usage in metering: one crawl of the work,
under the license it was delivered with, at the time it was delivered.

Deliveries are written with the delivery itself, then sent to metering in the background
and marked with metering's answer. A crash between the two sends them again, which
metering answers DUPLICATE (the event id is the delivery's), so nothing is lost or counted
twice; while metering is unreachable they wait.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.catalog.adapters.delivery_repository import Delivery
from services.catalog.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.errors import Unavailable
from services.runtime.sqltypes import utc_now
from services.runtime.usage_reporting import ServiceUsage, UsageRecorder, service_event_id

log = logging.getLogger(__name__)
BATCH = 500


class DeliveryMetering:
    def __init__(self, uow: UnitOfWorkFactory, reporter: UsageRecorder) -> None:
        self._uow = uow
        self._reporter = reporter

    def pending(self, _after: int, limit: int) -> list[Delivery]:
        """The relay's fetch: what is still unsent (by state, not by a cursor, so a
        delivery that commits late is never passed over)."""
        with self._uow(write=False) as uow:
            return uow.deliveries.unmetered(min(limit, BATCH))

    def waiting(self) -> int:
        with self._uow(write=False) as uow:
            return uow.deliveries.unmetered_count()

    def send(self, deliveries: Sequence[Delivery]) -> None:
        by_vendor: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_vendor.setdefault(d.vendor, []).append(d)
        states: dict[str, str] = {}
        for vendor, items in by_vendor.items():
            results = self._reporter.record(vendor, [_event(d) for d in items])
            for d, answer in zip(items, results, strict=True):
                if answer.recorded:
                    states[d.id] = answer.status
                elif not answer.retry_later:
                    log.warning("metering refused delivery %s: %s", d.id, answer.message)
                    states[d.id] = f"{answer.status}:{answer.reason}"
        with self._uow() as uow:
            uow.deliveries.metered(states, utc_now())
            uow.commit()
        if len(states) < len(deliveries):
            raise Unavailable("LICENSING_UNAVAILABLE", "metering will judge some deliveries later")


def _event(d: Delivery) -> ServiceUsage:
    return ServiceUsage(
        id=service_event_id("delivery", d.id),
        license=d.license,
        work=d.work,
        use=d.use,
        unit="crawls",
        quantity=1,
        occur_time=d.delivery_time,
        source="licentia-catalog",
        attributes={"delivery": d.id},
    )
