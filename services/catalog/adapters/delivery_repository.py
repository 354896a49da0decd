"""Recorded content deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from services.catalog.adapters import tables as t


@dataclass(frozen=True)
class Delivery:
    id: str
    vendor: str
    work: str
    version: int
    license: str
    use: str
    territory: str
    request_id: str | None
    delivery_time: datetime


class DeliveryRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, d: Delivery) -> None:
        self._conn.execute(insert(t.deliveries).values(**d.__dict__))

    def unmetered(self, limit: int) -> list[Delivery]:
        """Deliveries not yet recorded in metering, oldest first."""
        d = t.deliveries
        rows = self._conn.execute(
            select(d).where(d.c.usage_state == "").order_by(d.c.seq).limit(limit)
        )
        return [_delivery(row) for row in rows]

    def unmetered_count(self) -> int:
        d = t.deliveries
        query = select(func.count()).select_from(d).where(d.c.usage_state == "")
        return int(self._conn.execute(query).scalar_one())

    def metered(self, states: dict[str, str], at: datetime) -> None:
        """Record what metering answered for each delivery (by id)."""
        d = t.deliveries
        for delivery_id, state in states.items():
            self._conn.execute(
                update(d).where(d.c.id == delivery_id).values(usage_state=state, usage_time=at)
            )

    def by_request(self, vendor: str, request_id: str) -> Delivery | None:
        d = t.deliveries
        row = self._conn.execute(
            select(d).where(d.c.vendor == vendor, d.c.request_id == request_id)
        ).first()
        return _delivery(row) if row is not None else None


def _delivery(row: Any) -> Delivery:
    values = dict(row._mapping)
    for column in ("seq", "usage_state", "usage_time"):
        values.pop(column)
    return Delivery(**values)
