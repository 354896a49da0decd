"""A work version as provenance keeps it: fingerprints for the index, words for verifying.

`Fingerprints` are what the in-memory index holds (hash and word position of each
winnowed 4-gram). `WordRecord` is what verification reads for a candidate: a 32-bit
hash of every normalised word (to extend matches word by word) and each word's
character offsets in the work (to report spans in the work's own text). Both serialise
to compact bytes for the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.provenance.domain import fingerprints as fp
from services.provenance.domain.normalize import tokenize

# Word positions are kept modulo 2**16 in the index (two bytes per fingerprint); they are
# only compared as differences, and verification recovers the exact position.
POSITION_MODULUS = 1 << 16

U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True)
class Fingerprints:
    hashes: fp.Hashes
    positions: npt.NDArray[np.uint16]

    def to_bytes(self) -> bytes:
        return self.hashes.astype("<u8").tobytes() + self.positions.astype("<u2").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprints:
        count = len(data) // 10
        hashes = np.frombuffer(data, dtype="<u8", count=count).astype(np.uint64, copy=False)
        positions = np.frombuffer(data, dtype="<u2", offset=8 * count, count=count)
        return cls(hashes, positions.astype(np.uint16, copy=False))

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class WordRecord:
    words: U32  # 32-bit hash of each normalised word
    starts: U32  # character offset of each word in the work
    ends: U32

    def __len__(self) -> int:
        return len(self.words)

    def to_bytes(self) -> bytes:
        return b"".join(a.astype("<u4").tobytes() for a in (self.words, self.starts, self.ends))

    @classmethod
    def from_bytes(cls, data: bytes) -> WordRecord:
        count = len(data) // 12
        parts = [
            np.frombuffer(data, dtype="<u4", offset=4 * count * i, count=count).astype(
                np.uint32, copy=False
            )
            for i in range(3)
        ]
        return cls(parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class AnalysedText:
    """A text's words and 4-gram hashes, computed once for indexing or checking."""

    word_hashes: fp.Hashes
    grams: fp.Hashes
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    @property
    def word_count(self) -> int:
        return len(self.word_hashes)

    def fingerprints(self) -> Fingerprints:
        return _winnowed(self.grams)

    def word_record(self) -> WordRecord:
        return WordRecord(
            short_hashes(self.word_hashes),
            self.starts.astype(np.uint32),
            self.ends.astype(np.uint32),
        )


def _winnowed(grams: fp.Hashes) -> Fingerprints:
    chosen = fp.winnow(grams)
    return Fingerprints(grams[chosen], (chosen % POSITION_MODULUS).astype(np.uint16, copy=False))


def fingerprints_of(record: WordRecord) -> Fingerprints:
    """A stored document's fingerprints, rebuilt from its stored words alone (what a
    migration does when the fingerprint scheme changes)."""
    return _winnowed(fp.stored_gram_hashes(record.words))


def analyse(text: str) -> AnalysedText:
    tokens = tokenize(text)
    words = fp.word_hashes(tokens.words)
    return AnalysedText(words, fp.gram_hashes(words), tokens.starts, tokens.ends)


@dataclass(frozen=True)
class IndexedText:
    """What indexing keeps of a text: its word count, its fingerprints and its word
    record (as stored). Small: about a third of the analysis it comes from, which is what
    a worker process sends back."""

    word_count: int
    fingerprints: Fingerprints
    words: bytes


def to_index(text: str) -> IndexedText:
    analysed = analyse(text)
    return IndexedText(
        analysed.word_count, analysed.fingerprints(), analysed.word_record().to_bytes()
    )


def short_hashes(word_hashes: fp.Hashes) -> U32:
    return (word_hashes >> np.uint64(32)).astype(np.uint32)
