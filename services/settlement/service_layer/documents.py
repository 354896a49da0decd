"""Reading periods, invoices, statements and the ledger; verifying statements."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from services.runtime import pagination, resource_names
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.principal import Principal
from services.settlement.domain.documents import ChainCheck, statement_digest
from services.settlement.domain.ledger import NewTransaction, payable, receivable
from services.settlement.domain.periods import PeriodRecord
from services.settlement.service_layer import access
from services.settlement.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Document:
    """An invoice or a statement: its header row and its lines (ledger entries)."""

    row: Any
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    valid: bool
    problems: list[str]
    recomputed_digest: str
    statement_digest: str
    head_sequence: int
    head_hash: str
    checks: list[Check] = field(default_factory=list)


@dataclass(frozen=True)
class CurrencyBalance:
    currency: str
    balances: dict[str, int]
    head_sequence: int
    head_hash: str
    recomputed: bool = False
    problems: list[str] = field(default_factory=list)


class DocumentService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def period(self, p: Principal, name: str) -> PeriodRecord:
        with self._uow(write=False) as uow:
            record = uow.records.period(period_number(name, "name"))
        if record is None:
            raise NotFound("PERIOD_NOT_FOUND", f"{name} does not exist")
        return record

    def periods(self, p: Principal, page_size: int, token: str) -> pagination.Page[PeriodRecord]:
        page = pagination.page_request(page_size, token, {})
        with self._uow(write=False) as uow:
            items = uow.records.periods(after=page.after or 0, limit=page.size)
        return pagination.page_of(items, page.size, lambda r: r.number, {})

    def invoice(self, p: Principal, name: str) -> Document:
        row = self._find(name, "invoices", lambda uow, i: uow.records.invoice(i))
        access.as_vendor(p, row.vendor)
        with self._uow(write=False) as uow:
            entries = uow.ledger.entries_of(
                row.currency, receivable(row.vendor), row.ledger_sequence, row.ledger_sequence
            )
        return Document(row, [_line(e) for e in entries])

    def invoices(
        self, p: Principal, vendor: str, period: str, page_size: int, token: str
    ) -> pagination.Page[Any]:
        vendor = access.as_vendor(p, vendor)
        number = period_number(period, "period") if period else 0
        filters = {"vendor": vendor, "period": number}
        page = pagination.page_request(page_size, token, filters)
        with self._uow(write=False) as uow:
            rows = uow.records.invoices(vendor, number, page.after or "", page.size)
        return pagination.page_of(rows, page.size, lambda r: r.id, filters)

    def statement(self, p: Principal, name: str) -> Document:
        row = self._find(name, "statements", lambda uow, i: uow.records.statement(i))
        access.as_party(p, row.party)
        with self._uow(write=False) as uow:
            entries = uow.ledger.entries_of(
                row.currency, payable(row.party), row.first_sequence, row.last_sequence
            )
        return Document(row, [_line(e) for e in entries])

    def statements(
        self, p: Principal, party: str, period: str, page_size: int, token: str
    ) -> pagination.Page[Any]:
        party = access.as_party(p, party)
        number = period_number(period, "period") if period else 0
        filters = {"party": party, "period": number}
        page = pagination.page_request(page_size, token, filters)
        with self._uow(write=False) as uow:
            rows = uow.records.statements(party, number, page.after or "", page.size)
        return pagination.page_of(rows, page.size, lambda r: r.id, filters)

    def verify(self, p: Principal, name: str) -> Verification:
        """The statement proved: its totals are the sums of its lines, its lines are
        the ledger's entries (by digest), and the ledger's hash chain is intact from its
        first transaction to the head, with the statement's hash at its last line."""
        statement = self.statement(p, name).row
        check = ChainCheck()
        lines = []
        with self._uow(write=False) as uow:
            head_sequence, head_hash = uow.ledger.head(statement.currency)
            for tx, entries in uow.ledger.transactions(statement.currency, 1, head_sequence):
                check.add(tx.sequence, tx.previous_hash, tx.hash, _rebuilt(tx, entries))
                if statement.first_sequence <= tx.sequence <= statement.last_sequence:
                    lines += [
                        (tx.sequence, i, e)
                        for i, e in enumerate(entries)
                        if e.account == payable(statement.party)
                    ]
        digest = statement_digest(lines)
        checks = [
            _totals_check(statement, [e for _, _, e in lines]),
            Check(
                "lines",
                digest == statement.digest,
                "" if digest == statement.digest else "the lines differ from the ledger's entries",
            ),
            Check("chain", not check.problems, "; ".join(check.problems)),
            Check(
                "ledger_hash",
                check.hashes.get(statement.last_sequence) == statement.ledger_hash,
                "the ledger hash on the statement is not the chain's",
            ),
        ]
        problems = [c.detail for c in checks if not c.passed]
        return Verification(
            not problems, problems, digest, statement.digest, head_sequence, head_hash, checks
        )

    def trial_balance(
        self, p: Principal, currency: str, recompute: bool = False
    ) -> list[CurrencyBalance]:
        access.operator_only(p, "read the trial balance")
        out = []
        with self._uow(write=False) as uow:
            for c in [currency] if currency else uow.ledger.currencies():
                sequence, digest = uow.ledger.head(c)
                stored = uow.ledger.balances(c)
                if not recompute:
                    out.append(CurrencyBalance(c, stored, sequence, digest))
                    continue
                check = ChainCheck()
                for tx, entries in uow.ledger.transactions(c, 1, sequence):
                    check.add(tx.sequence, tx.previous_hash, tx.hash, _rebuilt(tx, entries))
                summed = uow.ledger.balances_from_entries(c)
                problems = list(check.problems) + [
                    f"{account}: saved balance {stored.get(account, 0)}, entries sum to "
                    f"{summed.get(account, 0)}"
                    for account in sorted(set(stored) | set(summed))
                    if stored.get(account, 0) != summed.get(account, 0)
                ]
                out.append(CurrencyBalance(c, summed, sequence, digest, True, problems))
        return out

    def entries(
        self, p: Principal, currency: str, account: str, page_size: int, token: str
    ) -> pagination.Page[Any]:
        account = access.ledger_account(p, account)
        filters = {"currency": currency, "account": account}
        page = pagination.page_request(page_size, token, filters)
        with self._uow(write=False) as uow:
            rows = uow.ledger.entries_page(currency, account, page.after or 0, page.size)
        return pagination.page_of(rows, page.size, lambda r: r.id, filters)

    def _find(self, name: str, collection: str, get: Any) -> Any:
        (doc_id,) = resource_names.parse(name, (collection,), "name")
        with self._uow(write=False) as uow:
            row = get(uow, doc_id)
        if row is None:
            raise NotFound(f"{collection[:-1].upper()}_NOT_FOUND", f"{name} does not exist")
        return row


def _totals_check(statement: Any, entries: list[Any]) -> Check:
    """The statement's stored totals against the sums of its lines."""
    gross = sum(int(e.detail.get("gross", 0)) for e in entries)
    commission = sum(int(e.detail.get("commission", 0)) for e in entries)
    net = -sum(e.amount for e in entries)
    found = {"gross": gross, "commission": commission, "net": net}
    wrong = [
        f"{name} is {getattr(statement, name)} but its lines sum to {value}"
        for name, value in found.items()
        if getattr(statement, name) != value
    ]
    if len(entries) != statement.line_count:
        wrong.append(f"it has {statement.line_count} lines but the ledger {len(entries)}")
    return Check("totals", not wrong, "; ".join(wrong))


def _line(entry: Any) -> dict[str, Any]:
    return {"amount": entry.amount, **json.loads(entry.detail)}


def _rebuilt(tx: Any, entries: list[Any]) -> NewTransaction:
    return NewTransaction(tx.key, tx.currency, tx.kind, tx.reference, tx.posted_at, tuple(entries))


MAX_PERIOD = 2**31 - 1  # periods are numbered 1, 2, ... in a 32-bit column


def period_number(name: str, field: str) -> int:
    """`settlementPeriods/{n}` -> n."""
    prefix, _, number = name.partition("/")
    digits = number.isascii() and number.isdigit() and len(number) <= 10
    valid = digits and 1 <= int(number) <= MAX_PERIOD
    if prefix != "settlementPeriods" or not valid:
        raise InvalidArgument(
            "INVALID_RESOURCE_NAME",
            f"{field} must look like settlementPeriods/{{number}}, got {name!r}",
            [FieldViolation(field, "expected settlementPeriods/{number}")],
        )
    return int(number)
