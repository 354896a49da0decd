"""Recorded content deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

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

    def by_request(self, vendor: str, request_id: str) -> Delivery | None:
        d = t.deliveries
        row = self._conn.execute(
            select(d).where(d.c.vendor == vendor, d.c.request_id == request_id)
        ).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values.pop("seq")
        return Delivery(**values)
