"""Bots in the catalog's database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from services.catalog.adapters import tables as t
from services.catalog.domain.bots import Bot


class BotRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, bot: Bot) -> None:
        self._conn.execute(insert(t.bots).values(**_row(bot)))

    def get(self, vendor: str, bot_id: str) -> Bot | None:
        row = self._conn.execute(
            select(t.bots).where(t.bots.c.vendor == vendor, t.bots.c.id == bot_id)
        ).first()
        return _bot(row) if row else None

    def page(self, vendor: str | None, after: str | None, limit: int) -> list[Bot]:
        query = select(t.bots)
        if vendor is not None:
            query = query.where(t.bots.c.vendor == vendor)
        if after is not None:
            query = query.where(t.bots.c.id > after)
        return [_bot(r) for r in self._conn.execute(query.order_by(t.bots.c.id).limit(limit))]

    def delete(self, bot: Bot) -> None:
        self._conn.execute(delete(t.bots).where(t.bots.c.id == bot.id))


def _row(bot: Bot) -> dict[str, Any]:
    return {**bot.__dict__, "public_keys": list(bot.public_keys), "key_ids": list(bot.key_ids)}


def _bot(row: Any) -> Bot:
    m = row._mapping
    return Bot(
        m["id"], m["vendor"], m["display_name"], m["user_agent"], tuple(m["public_keys"]),
        tuple(m["key_ids"]), m["key_directory_url"], m["create_time"],
    )  # fmt: skip
