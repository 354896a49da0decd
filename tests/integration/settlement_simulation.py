"""A seeded marketplace for settlement: random licenses, usage (late events, duplicate
reports, voids), rights holders that change, closes that crash between any two steps and
are replayed. Metering, licensing and the catalog are in-memory models with the real
services' semantics; settlement runs for real on its database.

`run(seed, database, crashes)` plays one seed and returns what settlement wrote; the
same seed always plays the same way, so a failing seed replays exactly.
"""

from __future__ import annotations

import calendar
import contextlib
import random
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from sqlalchemy import delete, select

from services.runtime.database import Database
from services.runtime.principal import OPERATOR
from services.settlement.adapters import tables as t
from services.settlement.domain.billing import UsageRow
from services.settlement.domain.money import allocate, micros_to_minor
from services.settlement.domain.postings import Holder
from services.settlement.domain.terms import BILLED_UNIT, LicenseTerms, Model, Period, Price, Tier
from services.settlement.service_layer.closing import ClosingService
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory

DAY = timedelta(days=1)
STEPS = ("opened", "sealed", "snapshot", "before-commit")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Crash(Exception):
    """A process dying between two steps of a close."""


@dataclass
class Event:
    vendor: str
    license: str
    work: str
    use: str
    unit: str
    quantity: int
    occur: datetime
    late_seal: int
    id: str = ""


@dataclass
class FakeMetering:
    """Metering's seal semantics: events for sealed time are marked late."""

    events: list[Event] = field(default_factory=list)
    seal_number: int = 0
    seal_end: datetime = EPOCH
    ids: set[tuple[str, str]] = field(default_factory=set)

    def record(self, e: Event) -> None:
        """Counted once per vendor and id, as metering does: a resent event is ignored."""
        if (e.vendor, e.id) in self.ids:
            return
        self.ids.add((e.vendor, e.id))
        e.late_seal = self.seal_number if e.occur < self.seal_end else 0
        self.events.append(e)

    def seal(self, seal: int, end: datetime) -> None:
        if (seal, end) == (self.seal_number, self.seal_end):
            return
        assert seal == self.seal_number + 1 and end > self.seal_end, (seal, end)
        self.seal_number, self.seal_end = seal, end

    def billable(
        self, start: datetime | None, end: datetime, late_seal: int, vendor: str = ""
    ) -> Iterator[UsageRow]:
        on_time: dict[tuple[str, ...], int] = defaultdict(int)
        late: dict[tuple[object, ...], int] = defaultdict(int)
        for e in self.events:
            if vendor and e.vendor != vendor:
                continue
            dims = (e.vendor, e.license, e.work, e.use, e.unit)
            if e.late_seal == 0 and e.occur < end and (start is None or e.occur >= start):
                on_time[dims] += e.quantity
            elif late_seal and e.late_seal == late_seal:
                late[(*dims, e.occur.replace(minute=0, second=0))] += e.quantity
        for dims, q in sorted(on_time.items()):
            yield UsageRow(*dims, quantity=q)
        for key, q in sorted(late.items(), key=lambda kv: str(kv[0])):
            yield UsageRow(*key[:5], quantity=q, hour=key[5])  # type: ignore[arg-type]


@dataclass
class FakeLicensing:
    terms: list[LicenseTerms]

    def licenses(self, vendor: str = "") -> list[LicenseTerms]:
        return [lic for lic in self.terms if not vendor or lic.vendor == vendor]


@dataclass
class FakeCatalog:
    owners: dict[str, tuple[Holder, ...]]

    def holders(self, works: Sequence[str]) -> dict[str, tuple[Holder, ...]]:
        return {w: self.owners[w] for w in works if w in self.owners}


@dataclass
class Market:
    metering: FakeMetering
    licensing: FakeLicensing
    catalog: FakeCatalog
    periods: list[Period]
    pools: dict[tuple[int, str], dict[str, int]]
    voided: set[str] = field(default_factory=set)


def build_market(rng: random.Random, start: datetime, closes: int) -> Market:
    vendors = [f"vendors/v{i}" for i in range(rng.randint(1, 3))]
    publishers = [f"publishers/p{i}" for i in range(rng.randint(1, 3))]
    periods = [Period(n + 1, start + n * DAY, start + (n + 1) * DAY) for n in range(closes)]
    terms = []
    for i in range(rng.randint(2, 6)):
        model = rng.choice(list(Model))
        price = Price(
            model,
            rng.choice(["USD", "USD", "EUR", "JPY"]),
            amount_micros=rng.choice([0, 1, 999, 2_000, 5_000, 1_500_000, 40_000_000]),
            share_bps=rng.randint(1, 10_000),
            tiers=tuple(
                Tier(start, rng.randint(0, 9_000))
                for start in sorted({rng.randint(1, 400) for _ in range(rng.randint(0, 2))})
            ),
            cap_micros=rng.choice([0, 0, 50_000, 3_000_000]),
            minimum_micros=rng.choice([0, 0, 70_000, 2_000_000]),
            interval_months=rng.choice([1, 12]),
            interval_seconds=rng.choice([0, 0, 86_400, 7 * 86_400]),
        )  # fmt: skip
        begin = start + rng.randint(-1, closes) * DAY + rng.randint(0, 23) * timedelta(hours=1)
        end = rng.choice([None, begin + rng.randint(1, 60) * timedelta(hours=1)])
        terms.append(
            LicenseTerms(
                f"licenses/l{i}",
                rng.choice(vendors),
                rng.choice(publishers),
                rng.choice([0, 1_500, 2_000, 3_333, 10_000]),
                price,
                begin,
                end,
            )
        )
    owners = {}
    for p in publishers:
        for w in range(3):
            owners[f"{p}/works/w{w}"] = _holders(rng, p)
    return Market(FakeMetering(), FakeLicensing(terms), FakeCatalog(owners), periods, {})


def _holders(rng: random.Random, publisher: str) -> tuple[Holder, ...]:
    count = rng.choice([1, 1, 2, 3])
    parties = [publisher, *(f"people/h{rng.randint(0, 4)}" for _ in range(count - 1))]
    parties = list(dict.fromkeys(parties))
    shares = allocate(10_000, [rng.randint(1, 9) for _ in parties], parties)
    return tuple(Holder(p, s) for p, s in zip(parties, shares, strict=True) if s)


def usage_for(rng: random.Random, market: Market, period: Period, closed: list[Period]) -> None:
    """Usage of this period, late usage of closed ones, repeats and voids."""
    for _ in range(rng.randint(0, 25)):
        lic = rng.choice(market.licensing.terms)
        when = period if not closed or rng.random() < 0.75 else rng.choice(closed)
        occur = when.start + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
        work = f"{lic.publisher}/works/w{rng.randint(0, 3)}"  # w3 was never in the catalog
        unit = BILLED_UNIT.get(lic.price.model) if rng.random() < 0.9 else "uses"
        event = Event(
            lic.vendor, lic.name, work,
            rng.choice(["ai-input", "ai-train"]), unit or "uses",
            rng.choice([1, 2, 7, 100, 333]), occur, 0, f"e{len(market.metering.ids)}",
        )  # fmt: skip
        market.metering.record(event)
        if rng.random() < 0.2:  # a vendor resending an event it already reported
            market.metering.record(Event(**rng.choice(market.metering.events).__dict__))
        if rng.random() < 0.15:  # a void of an earlier event: the opposite, same time
            earlier = rng.choice(market.metering.events)
            if earlier.quantity > 0 and earlier.id not in market.voided:
                market.voided.add(earlier.id)
                void = {
                    **earlier.__dict__,
                    "quantity": -earlier.quantity,
                    "id": f"void-{earlier.id}",
                }
                market.metering.record(Event(**void))
    for vendor in {lic.vendor for lic in market.licensing.terms}:
        if rng.random() < 0.5:
            market.pools[(period.number, vendor)] = {"USD": rng.randint(0, 500_000)}
    if rng.random() < 0.3:  # rights change hands between closes
        work = rng.choice(sorted(market.catalog.owners))
        market.catalog.owners[work] = _holders(rng, work.split("/works/")[0])


def reset(database: Database) -> None:
    with database.write_transaction() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(delete(table))


def _now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def replay_market(seed: int) -> Market:
    """The market a seed plays, all its usage recorded, without settling anything."""
    rng = random.Random(seed)
    market = build_market(rng, _now() - 10 * DAY, rng.randint(1, 4))
    for period in market.periods:
        usage_for(rng, market, period, market.periods[: period.number - 1])
    return market


def run(
    seed: int, database: Database, crashes: bool, racing_closers: int = 1
) -> dict[str, list[tuple[object, ...]]]:
    """Play one seed; returns the rows of every table settlement issued. With
    `racing_closers`, that many replicas close each period at the same moment."""
    rng = random.Random(seed)
    now = _now()
    market = build_market(rng, now - 10 * DAY, rng.randint(1, 4))
    crash_rng = random.Random(seed * 7919 + 1)
    uow = UnitOfWorkFactory(database)
    clock = lambda: now  # noqa: E731 - one close time, so runs compare byte for byte
    plain = ClosingService(uow, market.metering, market.licensing, market.catalog, clock=clock)
    for period in market.periods:
        usage_for(rng, market, period, market.periods[: period.number - 1])
        with uow() as unit:
            for (number, vendor), pools in market.pools.items():
                if number == period.number:
                    for currency, amount in pools.items():
                        unit.records.set_pool(number, vendor, currency, amount)
            unit.commit()
        start = period.start if period.number == 1 else None
        if crashes:
            for step in crash_rng.sample(STEPS, crash_rng.randint(1, len(STEPS))):
                crashing = ClosingService(
                    uow, market.metering, market.licensing, market.catalog,
                    checkpoint=_crash_at(step), clock=clock,
                )  # fmt: skip
                with contextlib.suppress(Crash):
                    crashing.close(OPERATOR, start, period.end)
        if racing_closers > 1:
            _race(plain, racing_closers, start, period.end)
        plain.close(OPERATOR, start, period.end)
        if crashes and crash_rng.random() < 0.5:
            plain.close(OPERATOR, start, period.end)  # repeating a finished close: no-op
    return dump(database)


def _race(closer: ClosingService, count: int, start: datetime | None, end: datetime) -> None:
    errors: list[BaseException] = []

    def close() -> None:
        try:
            closer.close(OPERATOR, start, end)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=close) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def _crash_at(step: str):  # type: ignore[no-untyped-def]
    def checkpoint(reached: str) -> None:
        if reached == step:
            raise Crash(step)

    return checkpoint


def dump(database: Database) -> dict[str, list[tuple[object, ...]]]:
    """Everything settlement issued, as comparable rows (generated ids left out)."""
    out = {}
    with database.engine.connect() as conn:
        for table in (t.ledger_transactions, t.invoices, t.statements, t.billed_state):
            rows = conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows]
        en = t.ledger_entries.c
        rows = conn.execute(
            select(
                en.currency, en.sequence, en.position, en.account, en.amount, en.detail
            ).order_by(en.currency, en.sequence, en.position)
        )
        out["ledger_entries"] = [tuple(r) for r in rows]
    return out


def reference_receivables(market: Market) -> dict[tuple[int, str, str], int]:
    """What each vendor owes per period and currency, rated from scratch from all the
    usage each period ended up with: an independent model of rating."""
    owed: dict[tuple[int, str, str], int] = defaultdict(int)
    last = market.periods[-1]
    for period in market.periods:
        usage: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
        for e in market.metering.events:
            first = period.number == 1
            if e.occur < period.end and (first or e.occur >= period.start) and e.occur < last.end:
                usage[(e.vendor, e.license, e.work, e.use, e.unit)] += e.quantity
        for lic in market.licensing.terms:
            amount = _reference_license(period, lic, usage, market)
            if amount:
                owed[(period.number, lic.vendor, lic.price.currency)] += amount
    return dict(owed)


def _reference_license(period: Period, lic: LicenseTerms, usage: dict, market: Market) -> int:
    price, currency = lic.price, lic.price.currency
    begin = max(period.start, lic.start)
    finish = period.end if lic.end is None else min(period.end, lic.end)
    share = _reference_interval_share(begin, finish, price)
    lines: list[Fraction] = []
    if price.model is Model.SUBSCRIPTION and share:
        lines = [price.amount_micros * share]
    elif price.model is Model.REVENUE_SHARE:
        mine = {k: q for k, q in usage.items() if k[1] == lic.name and k[4] == "attribution" and q}
        everyone = sum(
            q for k, q in usage.items() if k[0] == lic.vendor and k[4] == "attribution"
            and _terms(market, k[1]).price.model is Model.REVENUE_SHARE
            and _terms(market, k[1]).price.currency == currency
        )  # fmt: skip
        pool = market.pools.get((period.number, lic.vendor), {}).get(currency, 0)
        pool_micros = Fraction(pool * 1_000_000, 10 ** {"JPY": 0}.get(currency, 2))
        lines = [pool_micros * price.share_bps / 10_000 * q / everyone for q in mine.values()]
    elif price.model in BILLED_UNIT:
        unit = BILLED_UNIT[price.model]
        mine = {k: q for k, q in usage.items() if k[1] == lic.name and k[4] == unit and q}
        total_q = sum(mine.values())
        cost = Fraction(0)
        for n in range(total_q):  # unit by unit: slow and obviously right
            rate = price.amount_micros
            for tier in price.tiers:
                if n >= tier.from_quantity:
                    rate = tier.amount_micros
            cost += rate
        per = 1_000 if price.model is Model.PER_1K_TOKENS else 1
        lines = [cost / per * q / total_q for q in mine.values()]
    whole = sum(lines, Fraction(0))
    if price.cap_micros and whole > price.cap_micros:
        whole = Fraction(price.cap_micros)
        total = int(micros_to_minor(price.cap_micros, currency))
    else:
        total = round(micros_to_minor(whole, currency))  # the license's total, rounded once
    minimum = price.minimum_micros * share
    # Below the minimum (exactly): the minimum, rounded once.
    return round(micros_to_minor(minimum, currency)) if minimum > whole else total


def _reference_interval_share(begin: datetime, finish: datetime, price: Price) -> Fraction:
    """The part of the billing interval [begin, finish) covers, hour by hour (every time
    here is on the hour): each hour is 1/(hours in its month, or year, or interval)."""
    share = Fraction(0)
    hour = begin
    while hour < finish:
        if price.interval_seconds:
            share += Fraction(3_600, price.interval_seconds)
        elif price.interval_months == 12:
            share += Fraction(1, (366 if calendar.isleap(hour.year) else 365) * 24)
        else:
            share += Fraction(1, calendar.monthrange(hour.year, hour.month)[1] * 24)
        hour += timedelta(hours=1)
    return share


def _terms(market: Market, name: str) -> LicenseTerms:
    return next(lic for lic in market.licensing.terms if lic.name == name)
