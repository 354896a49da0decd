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
class Verification:
    valid: bool
    problems: list[str]
    recomputed_digest: str
    statement_digest: str
    head_sequence: int
    head_hash: str


@dataclass(frozen=True)
class CurrencyBalance:
    currency: str
    balances: dict[str, int]
    head_sequence: int
    head_hash: str


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
        """The statement's lines recomputed from the ledger, and the ledger's hash chain
        checked from its first transaction up to the one the statement names."""
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
        problems = list(check.problems)
        digest = statement_digest(lines)
        if digest != statement.digest:
            problems.append("the statement's lines differ from the ledger's entries")
        if check.hashes.get(statement.last_sequence) != statement.ledger_hash:
            problems.append("the ledger hash on the statement is not the chain's")
        return Verification(
            not problems, problems, digest, statement.digest, head_sequence, head_hash
        )

    def trial_balance(self, p: Principal, currency: str) -> list[CurrencyBalance]:
        access.operator_only(p, "read the trial balance")
        out = []
        with self._uow(write=False) as uow:
            for c in [currency] if currency else uow.ledger.currencies():
                sequence, digest = uow.ledger.head(c)
                out.append(CurrencyBalance(c, uow.ledger.balances(c), sequence, digest))
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


def _line(entry: Any) -> dict[str, Any]:
    return {"amount": entry.amount, **json.loads(entry.detail)}


def _rebuilt(tx: Any, entries: list[Any]) -> NewTransaction:
    return NewTransaction(tx.key, tx.currency, tx.kind, tx.reference, tx.posted_at, tuple(entries))


def period_number(name: str, field: str) -> int:
    """`settlementPeriods/{n}` -> n."""
    prefix, _, number = name.partition("/")
    if prefix != "settlementPeriods" or not number.isdigit() or int(number) < 1:
        raise InvalidArgument(
            "INVALID_RESOURCE_NAME",
            f"{field} must look like settlementPeriods/{{number}}, got {name!r}",
            [FieldViolation(field, "expected settlementPeriods/{number}")],
        )
    return int(number)
