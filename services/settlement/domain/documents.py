"""Statement digests and their verification against the ledger.

A statement's digest is SHA-256 over its lines exactly as posted (chain position,
account, amount, detail). It is stored with the hash of the ledger transaction the
period's posting ended with. Verifying recomputes the digest from the ledger's entries
and every transaction hash from the start of the chain: a line changed afterwards, or
any transaction before it, no longer matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.settlement.domain.ledger import (
    GENESIS,
    Entry,
    NewTransaction,
    canonical_json,
    transaction_hash,
)

Line = tuple[int, int, Entry]  # chain position, position in the transaction, the entry


def statement_digest(lines: Iterable[Line]) -> str:
    h = hashlib.sha256()
    for sequence, position, entry in lines:
        h.update(canonical_json([sequence, position]).encode())
        h.update(entry.canonical.encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class ChainCheck:
    """Walks a currency's chain from the start, checking each link and hash."""

    previous: str = GENESIS
    expected_sequence: int = 1
    hashes: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, sequence: int, previous_hash: str, stored_hash: str, tx: NewTransaction) -> None:
        if sequence != self.expected_sequence:
            self.problems.append(f"transaction {self.expected_sequence} is missing")
        if previous_hash != self.previous:
            self.problems.append(f"transaction {sequence} does not follow the one before")
        if not tx.balanced:
            self.problems.append(f"transaction {sequence} does not balance")
        recomputed = transaction_hash(sequence, previous_hash, tx)
        if recomputed != stored_hash:
            self.problems.append(f"transaction {sequence} was altered after it was posted")
        self.hashes[sequence] = stored_hash
        self.previous = stored_hash
        self.expected_sequence = sequence + 1
