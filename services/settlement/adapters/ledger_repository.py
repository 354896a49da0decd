"""The ledger in the database: chained appends under a per-currency head lock, reads of
entries and balances."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, func, insert, select, update

from services.runtime.bulk import insert_rows
from services.settlement.adapters import tables as t
from services.settlement.domain.ledger import (
    GENESIS,
    Entry,
    NewTransaction,
    Posted,
    chain,
)


class LedgerRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def post(self, txs: Sequence[NewTransaction]) -> list[Posted]:
        """Append to each currency's chain, in order; the caller commits."""
        posted: list[Posted] = []
        for currency in sorted({tx.currency for tx in txs}):
            mine = [tx for tx in txs if tx.currency == currency]
            sequence, head = self._lock_head(currency)
            links = chain(sequence + 1, head, mine)
            self._write(links)
            self._conn.execute(
                update(t.ledger_heads)
                .where(t.ledger_heads.c.currency == currency)
                .values(sequence=links[-1].sequence, hash=links[-1].hash)
            )
            posted += links
        return posted

    def lock(self, currency: str) -> None:
        """Hold the currency's chain until commit (check a balance, then post)."""
        self._lock_head(currency)

    def _lock_head(self, currency: str) -> tuple[int, str]:
        head = t.ledger_heads.c
        query = select(head.sequence, head.hash).where(head.currency == currency)
        row = self._conn.execute(query.with_for_update()).first()
        if row is None:
            # A new currency: its head row appears with the first posting. Two first
            # postings racing on PostgreSQL: one insert fails and its caller retries.
            self._conn.execute(
                insert(t.ledger_heads).values(currency=currency, sequence=0, hash=GENESIS)
            )
            return 0, GENESIS
        return int(row.sequence), str(row.hash)

    def _write(self, links: list[Posted]) -> None:
        insert_rows(
            self._conn,
            t.ledger_transactions,
            [
                {
                    "currency": p.transaction.currency,
                    "sequence": p.sequence,
                    "key": p.transaction.key,
                    "kind": p.transaction.kind,
                    "reference": p.transaction.reference,
                    "posted_at": p.transaction.posted_at,
                    "previous_hash": p.previous_hash,
                    "hash": p.hash,
                }
                for p in links
            ],
        )
        insert_rows(
            self._conn,
            t.ledger_entries,
            [
                {
                    "currency": p.transaction.currency,
                    "sequence": p.sequence,
                    "position": i,
                    "account": e.account,
                    "amount": e.amount,
                    "detail": e.detail_json,
                }
                for p in links
                for i, e in enumerate(p.transaction.entries)
            ],
        )

    def head(self, currency: str) -> tuple[int, str]:
        head = t.ledger_heads.c
        row = self._conn.execute(
            select(head.sequence, head.hash).where(head.currency == currency)
        ).first()
        return (int(row.sequence), str(row.hash)) if row else (0, GENESIS)

    def currencies(self) -> list[str]:
        return list(
            self._conn.execute(select(t.ledger_heads.c.currency).order_by("currency")).scalars()
        )

    def transactions(
        self, currency: str, first: int, last: int
    ) -> Iterator[tuple[Row[Any], list[Entry]]]:
        """Transactions first..last of a chain with their entries, in order."""
        tx, en = t.ledger_transactions.c, t.ledger_entries.c
        entries: dict[int, list[Entry]] = {}
        for row in self._conn.execute(
            select(en.sequence, en.account, en.amount, en.detail)
            .where(en.currency == currency, en.sequence.between(first, last))
            .order_by(en.sequence, en.position)
        ):
            entries.setdefault(row.sequence, []).append(
                Entry(row.account, row.amount, orjson.loads(row.detail))
            )
        for row in self._conn.execute(
            select(t.ledger_transactions)
            .where(tx.currency == currency, tx.sequence.between(first, last))
            .order_by(tx.sequence)
        ):
            yield row, entries.get(row.sequence, [])

    def entries_of(self, currency: str, account: str, first: int, last: int) -> list[Row[Any]]:
        en = t.ledger_entries.c
        return list(
            self._conn.execute(
                select(en.sequence, en.position, en.account, en.amount, en.detail)
                .where(
                    en.account == account,
                    en.currency == currency,
                    en.sequence.between(first, last),
                )
                .order_by(en.sequence, en.position)
            )
        )

    def entries_page(
        self, currency: str, account: str, after_id: int, limit: int
    ) -> list[Row[Any]]:
        en, tx = t.ledger_entries.c, t.ledger_transactions.c
        query = (
            select(en.id, en.currency, en.sequence, en.position, en.account, en.amount, en.detail,
                   tx.kind, tx.reference, tx.posted_at, tx.hash)
            .join(t.ledger_transactions,
                  (tx.currency == en.currency) & (tx.sequence == en.sequence))
            .where(en.id > after_id)
        )  # fmt: skip
        if currency:
            query = query.where(en.currency == currency)
        if account:
            query = query.where(en.account == account)
        return list(self._conn.execute(query.order_by(en.id).limit(limit)))

    def balances(self, currency: str) -> dict[str, int]:
        """Every account's balance: the latest snapshot plus the entries after it."""
        through = self._snapshot_through(currency)
        snap, en = t.balance_snapshots.c, t.ledger_entries.c
        balances: dict[str, int] = {}
        if through:
            for account, balance in self._conn.execute(
                select(snap.account, snap.balance).where(
                    snap.currency == currency, snap.through_sequence == through
                )
            ):
                balances[account] = int(balance)
        query = (
            select(en.account, func.sum(en.amount))
            .where(en.currency == currency, en.sequence > through)
            .group_by(en.account)
        )
        for account, amount in self._conn.execute(query):
            balances[account] = balances.get(account, 0) + int(amount)
        return balances

    def balances_from_entries(self, currency: str) -> dict[str, int]:
        """Every account's balance summed from all its entries, ignoring snapshots."""
        en = t.ledger_entries.c
        query = (
            select(en.account, func.sum(en.amount))
            .where(en.currency == currency)
            .group_by(en.account)
        )
        return {account: int(amount) for account, amount in self._conn.execute(query)}

    def balance(self, currency: str, account: str) -> int:
        through = self._snapshot_through(currency)
        snap, en = t.balance_snapshots.c, t.ledger_entries.c
        base = self._conn.execute(
            select(snap.balance).where(
                snap.currency == currency,
                snap.through_sequence == through,
                snap.account == account,
            )
        ).scalar()
        since = self._conn.execute(
            select(func.sum(en.amount)).where(
                en.account == account, en.currency == currency, en.sequence > through
            )
        ).scalar()
        return int(base or 0) + int(since or 0)

    def _snapshot_through(self, currency: str) -> int:
        snap = t.balance_snapshots.c
        through = self._conn.execute(
            select(func.max(snap.through_sequence)).where(snap.currency == currency)
        ).scalar()
        return int(through or 0)

    def snapshot(self, currency: str) -> None:
        """Record every balance through the chain's head (balances then read from here)."""
        through, _ = self.head(currency)
        if not through:
            return
        rows = [
            {"currency": currency, "through_sequence": through, "account": a, "balance": b}
            for a, b in sorted(self.balances(currency).items())
        ]
        existing = self._conn.execute(
            select(func.count())
            .select_from(t.balance_snapshots)
            .where(
                t.balance_snapshots.c.currency == currency,
                t.balance_snapshots.c.through_sequence == through,
            )
        ).scalar()
        if not existing:
            insert_rows(self._conn, t.balance_snapshots, rows)
