"""The double-entry ledger, one per currency: immutable transactions whose entries sum
to zero, each chained to the one before by a SHA-256 hash.

Signs: a positive amount debits an account, a negative one credits it. Accounts:
`vendors/{v}/receivable` (what a vendor owes), `{party}/payable` (what a rights holder
is owed), `marketplace/revenue` (the commission), `payouts/in-transit` (payouts sent,
not yet confirmed) and `payouts/paid` (money that has left). A balance is the sum of
an account's entries; nothing stores a balance that postings update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import orjson

GENESIS = "0" * 64
REVENUE = "marketplace/revenue"
IN_TRANSIT = "payouts/in-transit"
PAID = "payouts/paid"

Detail = Mapping[str, str | int | bool]


def receivable(vendor: str) -> str:
    return f"{vendor}/receivable"


def payable(party: str) -> str:
    return f"{party}/payable"


class Unbalanced(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    account: str
    amount: int
    detail: Detail = field(default_factory=dict)

    @cached_property
    def detail_json(self) -> str:
        """The detail as canonical JSON: what is stored, hashed and digested."""
        return canonical_json(self.detail)

    @cached_property
    def canonical(self) -> str:
        return canonical_json([self.account, self.amount]) + self.detail_json


@dataclass(frozen=True)
class NewTransaction:
    # Posting the same key twice posts once.
    key: str
    currency: str
    # `invoice`, `payout`, `payout-paid`, `payout-failed`.
    kind: str
    # What it records, e.g. `invoices/{id}` or `payouts/{id}`.
    reference: str
    posted_at: datetime
    entries: tuple[Entry, ...]

    @property
    def balanced(self) -> bool:
        return bool(self.entries) and sum(e.amount for e in self.entries) == 0


@dataclass(frozen=True)
class Posted:
    sequence: int  # position in its currency's chain, from 1
    transaction: NewTransaction
    previous_hash: str
    hash: str


def transaction_hash(sequence: int, previous_hash: str, tx: NewTransaction) -> str:
    """SHA-256 over the previous hash, the transaction's fields and each entry, one
    canonical JSON line each: altering any entry, or any earlier transaction, changes
    every hash from there on."""
    header = [sequence, previous_hash, tx.key, tx.currency, tx.kind, tx.reference,
              tx.posted_at.isoformat()]  # fmt: skip
    h = hashlib.sha256(canonical_json(header).encode())
    for entry in tx.entries:
        h.update(b"\n")
        h.update(entry.canonical.encode())
    return h.hexdigest()


def chain(start_sequence: int, previous_hash: str, txs: list[NewTransaction]) -> list[Posted]:
    """Link transactions after the chain's head; refuses any that does not balance."""
    posted = []
    for offset, tx in enumerate(txs):
        if not tx.balanced:
            raise Unbalanced(f"transaction {tx.key} does not balance")
        sequence = start_sequence + offset
        digest = transaction_hash(sequence, previous_hash, tx)
        posted.append(Posted(sequence, tx, previous_hash, digest))
        previous_hash = digest
    return posted


def canonical_json(value: object) -> str:
    """Keys sorted, no spaces, UTF-8 as is: the same bytes for the same value, always."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
