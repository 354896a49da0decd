"""Settlement's own records: periods, what each close copied and billed, pools, budgets,
invoices, statements and payouts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from services.runtime.bulk import insert_rows
from services.runtime.database import upsert_into
from services.settlement.adapters import codec
from services.settlement.adapters import tables as t
from services.settlement.domain.billing import VendorPeriod
from services.settlement.domain.periods import PeriodRecord
from services.settlement.domain.postings import Holder
from services.settlement.domain.terms import LicenseTerms


class SettlementRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    # Periods

    def last_period(self, lock: bool = False) -> PeriodRecord | None:
        query = select(t.periods).order_by(t.periods.c.number.desc()).limit(1)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        return _period(row) if row else None

    def period(self, number: int, lock: bool = False) -> PeriodRecord | None:
        query = select(t.periods).where(t.periods.c.number == number)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        return _period(row) if row else None

    def periods(self, after: int = 0, limit: int = 1_000) -> list[PeriodRecord]:
        query = (
            select(t.periods)
            .where(t.periods.c.number > after)
            .order_by(t.periods.c.number)
            .limit(limit)
        )
        return [_period(r) for r in self._conn.execute(query)]

    def add_period(self, p: PeriodRecord, request_id: str) -> None:
        self._conn.execute(
            insert(t.periods).values(
                number=p.number,
                start_time=p.start,
                end_time=p.end,
                state=p.state,
                step=p.step,
                close_time=p.close_time,
                request_id=request_id,
            )
        )

    def set_step(self, number: int, step: str, closed_time: datetime | None = None) -> None:
        values: dict[str, Any] = {"step": step}
        if closed_time is not None:
            values.update(state="CLOSED", closed_time=closed_time)
        self._conn.execute(update(t.periods).where(t.periods.c.number == number).values(**values))

    # What a close copies

    def save_snapshot(
        self,
        number: int,
        licenses: Iterable[LicenseTerms],
        holders: dict[str, tuple[Holder, ...]],
    ) -> None:
        for table in (t.license_snapshots, t.holder_snapshots):
            self._conn.execute(delete(table).where(table.c.period == number))
        insert_rows(
            self._conn,
            t.license_snapshots,
            [
                {"period": number, "license": lic.name, "terms": codec.terms_out(lic)}
                for lic in licenses
            ],
        )
        insert_rows(
            self._conn,
            t.holder_snapshots,
            [
                {"period": number, "work": w, "holders": codec.holders_out(h)}
                for w, h in sorted(holders.items())
            ],
        )

    def licenses(self, number: int) -> dict[str, LicenseTerms]:
        rows = self._conn.execute(
            select(t.license_snapshots.c.terms).where(t.license_snapshots.c.period == number)
        )
        terms = [codec.terms_in(data) for (data,) in rows]
        return {lic.name: lic for lic in terms}

    def holders(self, number: int) -> dict[str, tuple[Holder, ...]]:
        rows = self._conn.execute(
            select(t.holder_snapshots.c.work, t.holder_snapshots.c.holders).where(
                t.holder_snapshots.c.period == number
            )
        )
        return {work: codec.holders_in(data) for work, data in rows}

    # What each period billed, per vendor

    def billed(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], VendorPeriod]:
        wanted = set(keys)
        found: dict[tuple[int, str], VendorPeriod] = {}
        numbers = sorted({n for n, _ in wanted})
        if not numbers:
            return found
        b = t.billed_state.c
        for row in self._conn.execute(select(t.billed_state).where(b.period.in_(numbers))):
            if (row.period, row.vendor) in wanted:
                found[(row.period, row.vendor)] = codec.state_in(row.usage, row.charges)
        return found

    def save_billed(self, states: dict[tuple[int, str], VendorPeriod]) -> None:
        b = t.billed_state.c
        for number, vendor in states:
            self._conn.execute(delete(t.billed_state).where(b.period == number, b.vendor == vendor))
        rows = []
        for (number, vendor), state in sorted(states.items()):
            usage, charges = codec.state_out(state)
            rows.append({"period": number, "vendor": vendor, "usage": usage, "charges": charges})
        insert_rows(self._conn, t.billed_state, rows)

    # Pools and budgets

    def set_pool(self, number: int, vendor: str, currency: str, amount: int) -> None:
        p = t.pools.c
        self._conn.execute(
            delete(t.pools).where(p.period == number, p.vendor == vendor, p.currency == currency)
        )
        self._conn.execute(
            insert(t.pools).values(period=number, vendor=vendor, currency=currency, amount=amount)
        )

    def pools(self, numbers: Sequence[int]) -> dict[tuple[int, str], dict[str, int]]:
        found: dict[tuple[int, str], dict[str, int]] = {}
        for row in self._conn.execute(select(t.pools).where(t.pools.c.period.in_(list(numbers)))):
            found.setdefault((row.period, row.vendor), {})[row.currency] = int(row.amount)
        return found

    def set_budget(
        self, vendor: str, currency: str, amount: int, alert_bps: int, now: datetime
    ) -> None:
        # One statement that inserts or replaces: concurrent calls for the same budget
        # each apply, the last one stays (a delete then an insert let two of them insert).
        values = {"amount": amount, "alert_bps": alert_bps, "update_time": now}
        self._conn.execute(
            upsert_into(self._conn, t.budgets)
            .values(vendor=vendor, currency=currency, **values)
            .on_conflict_do_update(index_elements=["vendor", "currency"], set_=values)
        )

    def budgets(self, vendor: str) -> list[Row[Any]]:
        return list(self._conn.execute(select(t.budgets).where(t.budgets.c.vendor == vendor)))

    # Invoices and statements

    def add_invoices(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self._conn, t.invoices, rows)

    def add_statements(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self._conn, t.statements, rows)

    def invoice(self, invoice_id: str) -> Row[Any] | None:
        return self._conn.execute(select(t.invoices).where(t.invoices.c.id == invoice_id)).first()

    def statement(self, statement_id: str) -> Row[Any] | None:
        return self._conn.execute(
            select(t.statements).where(t.statements.c.id == statement_id)
        ).first()

    def invoices(self, vendor: str, period: int, after: str, limit: int) -> list[Row[Any]]:
        return self._documents(t.invoices, "vendor", vendor, period, after, limit)

    def statements(self, party: str, period: int, after: str, limit: int) -> list[Row[Any]]:
        return self._documents(t.statements, "party", party, period, after, limit)

    def _documents(
        self, table: Any, owner_column: str, owner: str, period: int, after: str, limit: int
    ) -> list[Row[Any]]:
        query = select(table).where(table.c.id > after)
        if owner:
            query = query.where(table.c[owner_column] == owner)
        if period:
            query = query.where(table.c.period == period)
        return list(self._conn.execute(query.order_by(table.c.id).limit(limit)))

    # Payouts

    def add_payout(self, row: dict[str, Any]) -> None:
        self._conn.execute(insert(t.payouts).values(**row))

    def payout(
        self, payout_id: str = "", request_id: str = "", lock: bool = False
    ) -> Row[Any] | None:
        c = t.payouts.c
        query = select(t.payouts).where(
            c.id == payout_id if payout_id else c.request_id == request_id
        )
        return self._conn.execute(query.with_for_update() if lock else query).first()

    def update_payout(self, payout_id: str, **values: Any) -> None:
        self._conn.execute(update(t.payouts).where(t.payouts.c.id == payout_id).values(**values))

    def payouts(self, party: str, state: str, after: str, limit: int) -> list[Row[Any]]:
        c = t.payouts.c
        query = select(t.payouts).where(c.id > after)
        if party:
            query = query.where(c.party == party)
        if state:
            query = query.where(c.state == state)
        return list(self._conn.execute(query.order_by(c.id).limit(limit)))


def _period(row: Row[Any]) -> PeriodRecord:
    return PeriodRecord(
        number=row.number,
        start=row.start_time,
        end=row.end_time,
        state=row.state,
        step=row.step,
        close_time=row.close_time,
        closed_time=row.closed_time,
    )
