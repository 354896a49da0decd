"""Seeded simulations of settlement (see settlement_simulation.py): for every seed, a run
with crashes injected between the steps of every close, and replays, writes exactly what
an uninterrupted run writes; the ledger balances, invoices equal statements plus
commission, every statement verifies, and what vendors owe equals an independent model.

SETTLEMENT_SEEDS=5000 runs more seeds; SETTLEMENT_SEED=123 replays one."""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from services.runtime import migrations
from services.runtime.database import Database
from services.runtime.principal import OPERATOR
from services.settlement import app as settlement_app
from services.settlement.adapters import tables as t
from services.settlement.service_layer.documents import DocumentService
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory
from tests.integration import settlement_simulation as sim

_ONE = os.environ.get("SETTLEMENT_SEED")
SEEDS = [int(_ONE)] if _ONE else list(range(int(os.environ.get("SETTLEMENT_SEEDS", "200"))))
POSTGRES_SEEDS = SEEDS[:25]


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("settlement") / "settlement.db"
    database = Database(f"sqlite:///{path}", "settlement")
    migrations.upgrade(database, settlement_app.MIGRATIONS)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def postgres_db(postgres_url: str) -> Iterator[Database]:
    schema = f"sim_{uuid.uuid4().hex[:10]}"
    database = Database(postgres_url, schema)
    migrations.upgrade(database, settlement_app.MIGRATIONS)
    yield database
    database.dispose()
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_on_sqlite(sqlite_db: Database, seed: int) -> None:
    _play(sqlite_db, seed)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", POSTGRES_SEEDS)
def test_seed_on_postgresql(postgres_db: Database, seed: int) -> None:
    _play(postgres_db, seed)


def _play(database: Database, seed: int) -> None:
    sim.reset(database)
    clean = sim.run(seed, database, crashes=False)
    _check_invariants(database, seed)
    sim.reset(database)
    crashed = sim.run(seed, database, crashes=True)
    for table, rows in clean.items():
        assert crashed[table] == rows, f"seed {seed}: {table} differs after crashes and replays"


def _check_invariants(database: Database, seed: int) -> None:
    market = _market_of(seed)
    with database.engine.connect() as conn:
        entries = conn.execute(
            select(t.ledger_entries.c.currency, t.ledger_entries.c.sequence,
                   t.ledger_entries.c.account, t.ledger_entries.c.amount,
                   t.ledger_entries.c.detail)
        ).all()  # fmt: skip
        invoices = conn.execute(select(t.invoices)).all()
        statements = conn.execute(select(t.statements)).all()
    per_tx: dict[tuple[str, int], int] = defaultdict(int)
    owed: dict[tuple[int, str, str], int] = defaultdict(int)
    for currency, sequence, account, amount, detail in entries:
        per_tx[(currency, sequence)] += amount
        if account.endswith("/receivable"):
            vendor = account.removesuffix("/receivable")
            owed[(json.loads(detail)["period"], vendor, currency)] += amount
    assert all(total == 0 for total in per_tx.values()), f"seed {seed}: unbalanced transaction"
    owed = {k: v for k, v in owed.items() if v}
    assert owed == sim.reference_receivables(market), f"seed {seed}: receivables differ"
    invoiced: dict[tuple[int, str], int] = defaultdict(int)
    stated: dict[tuple[int, str], int] = defaultdict(int)
    for i in invoices:
        invoiced[(i.period, i.currency)] += i.total
    for s in statements:
        stated[(s.period, s.currency)] += s.net + s.commission
        assert s.gross == s.net + s.commission
    assert {k: v for k, v in invoiced.items() if v} == {k: v for k, v in stated.items() if v}
    _check_commission_and_shares(database, market, seed)
    documents = DocumentService(UnitOfWorkFactory(database))
    for s in statements:
        verdict = documents.verify(OPERATOR, f"statements/{s.id}")
        assert verdict.valid, f"seed {seed}: {s.id}: {verdict.problems}"


def _market_of(seed: int) -> sim.Market:
    """The market a seed plays (its usage included), rebuilt without settlement."""
    return sim.replay_market(seed)


def _check_commission_and_shares(database: Database, market: sim.Market, seed: int) -> None:
    """Per license in an invoice (its own period's lines, or its adjustments of one
    earlier period): the commission is the license's rate of its billed total, rounded
    half to even once; holders' nets and the commission add up to that total; a holder
    of every line of a license gets its basis points of the net within one unit."""
    rates = {lic.name: lic.commission_bps for lic in market.licensing.terms}
    en, tx = t.ledger_entries.c, t.ledger_transactions.c
    with database.engine.connect() as conn:
        rows = conn.execute(
            select(en.currency, en.sequence, en.account, en.amount, en.detail)
            .join(t.ledger_transactions,
                  (tx.currency == en.currency) & (tx.sequence == en.sequence))
            .where(tx.kind == "invoice")
        ).all()  # fmt: skip
    billed: dict[tuple[object, ...], int] = defaultdict(int)
    commission: dict[tuple[object, ...], int] = defaultdict(int)
    nets: dict[tuple[object, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for currency, sequence, account, amount, detail in rows:
        d = json.loads(detail)
        if account == "marketplace/revenue":
            continue
        group = (currency, sequence, d["license"], d["period"], d["adjustment"])
        if account.endswith("/receivable"):
            billed[group] += amount
        else:
            assert d["commission_bps"] == rates[d["license"]]
            nets[group][account.removesuffix("/payable")] += -amount
            commission[group] += d["commission"]
    for group in set(billed) | set(nets):
        rate = rates[str(group[2])]
        expected = round(Fraction(billed[group] * rate, 10_000))
        assert commission[group] == expected, f"seed {seed}: commission of {group}"
        assert sum(nets[group].values()) + expected == billed[group], f"seed {seed}: {group}"


def _publisher(market: sim.Market, license_name: object) -> str:
    return next(lic.publisher for lic in market.licensing.terms if lic.name == license_name)


@pytest.mark.postgres
def test_two_replicas_closing_the_same_period_issue_it_once(postgres_db: Database) -> None:
    """Two settlement replicas asked to close the same period at the same moment."""
    seed = next(s for s in range(50) if _posts_something(s))
    sim.reset(postgres_db)
    alone = sim.run(seed, postgres_db, crashes=False)
    sim.reset(postgres_db)
    together = sim.run(seed, postgres_db, crashes=False, racing_closers=2)
    assert together == alone


def _posts_something(seed: int) -> bool:
    market = sim.replay_market(seed)
    return bool(sim.reference_receivables(market))
