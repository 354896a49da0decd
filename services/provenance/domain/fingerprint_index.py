"""The in-memory query index: sorted numpy arrays, a small delta, and a liveness map.

Layout (14 bytes per fingerprint): the 64-bit hash, the document id (uint32) and the
word position modulo 2**16 (uint16), in three parallel arrays sorted by hash. A lookup
is two binary searches per query 4-gram.

- `main` holds the bulk; `delta` takes each indexed batch (merged in linear time);
  when the delta grows past an eighth of main, the two are merged and postings of
  removed documents are dropped.
- Removing a document flips its byte in `live`; lookups drop dead postings at once, so
  a deletion takes effect immediately, before any merge.
- One writer (the indexing thread) builds new arrays and swaps a single reference;
  readers take the reference once per lookup and never lock.
Document ids are the database's ids of work versions: never reused, so a dead id can
never come back to life.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from services.provenance.domain.documents import Fingerprints

DocIds = npt.NDArray[np.uint32]
MIN_DELTA_MERGE = 200_000


@dataclass(frozen=True)
class _Layer:
    hashes: npt.NDArray[np.uint64]
    docs: DocIds
    positions: npt.NDArray[np.uint16]

    @staticmethod
    def empty() -> _Layer:
        return _Layer(np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, np.uint16))

    @staticmethod
    def of(documents: Sequence[tuple[int, Fingerprints]]) -> _Layer:
        if not documents:
            return _Layer.empty()
        hashes = np.concatenate([f.hashes for _, f in documents])
        positions = np.concatenate([f.positions for _, f in documents])
        docs = np.repeat(
            np.fromiter((d for d, _ in documents), np.uint32, len(documents)),
            [len(f) for _, f in documents],
        )
        order = np.argsort(hashes, kind="stable")
        return _Layer(hashes[order], docs[order], positions[order])

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        directory = self.__dict__.get("directory")
        extra = directory.starts.nbytes if directory is not None else 0
        return self.hashes.nbytes + self.docs.nbytes + self.positions.nbytes + extra

    def merge(self, other: _Layer) -> _Layer:
        """Both sorted by hash; linear time."""
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        slots = np.searchsorted(self.hashes, other.hashes, side="right")
        slots += np.arange(len(other))
        theirs = np.zeros(len(self) + len(other), dtype=bool)
        theirs[slots] = True
        arrays = []
        for mine, their in (
            (self.hashes, other.hashes),
            (self.docs, other.docs),
            (self.positions, other.positions),
        ):
            out = np.empty(len(theirs), dtype=mine.dtype)
            out[theirs] = their
            out[~theirs] = mine
            arrays.append(out)
        return _Layer(arrays[0], arrays[1], arrays[2])

    def keep_live(self, live: npt.NDArray[np.uint16]) -> _Layer:
        alive = live[self.docs].astype(bool)
        if alive.all():
            return self
        return _Layer(self.hashes[alive], self.docs[alive], self.positions[alive])

    def warm(self) -> None:
        """Build the directory before readers see the layer."""
        if len(self) >= _DIRECTORY_FROM:
            _ = self.directory

    @cached_property
    def directory(self) -> _Directory:
        return _Directory.of(self.hashes)

    def find(
        self, grams: npt.NDArray[np.uint64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """For each gram: where its postings start, and how many there are."""
        if len(self) == 0:
            empty = np.zeros(len(grams), dtype=np.int64)
            return empty, empty
        if len(self) < _DIRECTORY_FROM:
            left = np.searchsorted(self.hashes, grams, side="left")
            return left, np.searchsorted(self.hashes, grams, side="right") - left
        return self.directory.find(self.hashes, grams)


_DIRECTORY_FROM = 100_000  # below this a binary search is as fast
_WINDOW_LIMIT = 64


@dataclass(frozen=True)
class _Directory:
    """Where each bucket of hashes (their top bits) starts in the sorted array.

    A binary search over tens of millions of hashes misses the cache at almost every
    step; with about 8 hashes per bucket, a lookup reads two directory entries and one
    short run of hashes instead (4x faster at 35 million fingerprints). Costs 4 bytes
    per 8 fingerprints.
    """

    shift: np.uint64
    starts: npt.NDArray[np.uint32]
    window: int

    @staticmethod
    def of(hashes: npt.NDArray[np.uint64]) -> _Directory:
        bits = max(1, int(np.log2(max(16, len(hashes)) / 8)))
        shift = np.uint64(64 - bits)
        counts = np.bincount((hashes >> shift).astype(np.int64), minlength=1 << bits)
        starts = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        # The window covers all but the rarest, crowded buckets (a phrase repeated across
        # many works fills one); lookups there fall back to a binary search.
        window = int(np.percentile(counts, 99.99)) + 1
        return _Directory(shift, starts.astype(np.uint32), min(window, _WINDOW_LIMIT))

    def find(
        self, hashes: npt.NDArray[np.uint64], grams: npt.NDArray[np.uint64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        bucket = (grams >> self.shift).astype(np.int64)
        lo = self.starts[bucket].astype(np.int64)
        size = self.starts[bucket + 1].astype(np.int64) - lo
        steps = np.arange(self.window)
        window = hashes[np.minimum(lo[:, None] + steps, len(hashes) - 1)]
        inside = steps < size[:, None]
        needles = grams[:, None]
        left = lo + ((window < needles) & inside).sum(axis=1)
        right = lo + ((window <= needles) & inside).sum(axis=1)
        crowded = np.flatnonzero(size > self.window)  # boilerplate buckets: search them
        if len(crowded):
            left[crowded] = np.searchsorted(hashes, grams[crowded], side="left")
            right[crowded] = np.searchsorted(hashes, grams[crowded], side="right")
        return left, right - left


@dataclass(frozen=True)
class Hits:
    """Index postings matching a text's 4-grams (one row per posting)."""

    query_positions: npt.NDArray[np.int64]
    docs: DocIds
    doc_positions: npt.NDArray[np.uint16]
    # How many postings the matched hash has in the whole index (rarity of the phrase).
    frequencies: npt.NDArray[np.int64]
    # Per query 4-gram: +1 when the index holds it as boilerplate (too many postings),
    # -1 when it holds it as a rare phrase, 0 when it does not hold it.
    rarity: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.docs)


@dataclass(frozen=True)
class IndexStats:
    documents: int
    fingerprints: int
    memory_bytes: int


@dataclass(frozen=True)
class _State:
    main: _Layer
    delta: _Layer


class FingerprintIndex:
    def __init__(self, max_postings: int = 64) -> None:
        # A hash held by more postings than this is boilerplate ("all rights reserved",
        # bylines, wire credits) and ignored: it says nothing about where a text came from.
        self.max_postings = max_postings
        self._state = _State(_Layer.empty(), _Layer.empty())
        # Per document id: 0 when absent or removed, else 1 + its fingerprint count.
        self._live = np.zeros(1024, dtype=np.uint16)
        self._documents = 0
        self._fingerprints = 0  # of live documents (dead ones wait for the next merge)
        self._write_lock = threading.Lock()

    # -- writing (one writer at a time) --------------------------------------------

    def load(self, documents: Iterable[tuple[int, bytes]], chunk: int = 100_000) -> None:
        """Bulk build from stored fingerprints (`Fingerprints.to_bytes()`): replaces the
        whole index. Bytes are joined per chunk and decoded once, with no object per
        document, which keeps start-up fast and its memory close to the result's."""
        with self._write_lock:
            self._live = np.zeros(1024, dtype=np.uint16)
            self._documents = 0
            self._fingerprints = 0
            parts: list[_Layer] = []
            ids: list[int] = []
            sizes: list[int] = []
            hashes: list[bytes] = []
            positions: list[bytes] = []
            for doc_id, data in documents:
                count = len(data) // 10
                ids.append(doc_id)
                sizes.append(count)
                hashes.append(data[: 8 * count])
                positions.append(data[8 * count :])
                if len(ids) >= chunk:
                    parts.append(self._decode(ids, sizes, hashes, positions))
                    ids, sizes, hashes, positions = [], [], [], []
            parts.append(self._decode(ids, sizes, hashes, positions))
            all_hashes = np.concatenate([part.hashes for part in parts])
            order = np.argsort(all_hashes)
            main = _Layer(
                all_hashes[order],
                np.concatenate([part.docs for part in parts])[order],
                np.concatenate([part.positions for part in parts])[order],
            )
            main.warm()
            self._state = _State(main, _Layer.empty())

    def _decode(
        self, ids: list[int], sizes: list[int], hashes: list[bytes], positions: list[bytes]
    ) -> _Layer:
        doc_ids = np.array(ids, dtype=np.uint32)
        counts = np.array(sizes, dtype=np.int64)
        if len(ids):
            self._grow(int(doc_ids.max()))
            self._live[doc_ids] = np.minimum(counts, 65_534) + 1
            self._documents += len(ids)
            self._fingerprints += int(counts.sum())
        return _Layer(
            np.frombuffer(b"".join(hashes), dtype="<u8").astype(np.uint64),
            np.repeat(doc_ids, counts),
            np.frombuffer(b"".join(positions), dtype="<u2").astype(np.uint16),
        )

    def _grow(self, highest: int) -> None:
        if highest >= len(self._live):
            grown = np.zeros(max(highest + 1, 2 * len(self._live)), dtype=np.uint16)
            grown[: len(self._live)] = self._live
            self._live = grown

    def apply(self, added: Sequence[tuple[int, Fingerprints]], removed: Iterable[int] = ()) -> None:
        """Add documents and remove others, as one step."""
        with self._write_lock:
            batch = self._mark_live(added)
            state = self._state
            delta = state.delta.merge(batch)
            for doc in removed:
                if doc < len(self._live) and self._live[doc]:
                    self._fingerprints -= int(self._live[doc]) - 1
                    self._live[doc] = 0
                    self._documents -= 1
            if len(delta) > max(MIN_DELTA_MERGE, len(state.main) // 8):
                main = state.main.merge(delta).keep_live(self._live)
                main.warm()
                self._state = _State(main, _Layer.empty())
            else:
                self._state = _State(state.main, delta)

    def _mark_live(self, documents: Sequence[tuple[int, Fingerprints]]) -> _Layer:
        if documents:
            self._grow(max(doc for doc, _ in documents))
            for doc, prints in documents:
                if not self._live[doc]:
                    self._live[doc] = 1 + min(len(prints), 65_534)
                    self._documents += 1
                    self._fingerprints += len(prints)
        return _Layer.of(documents)

    # -- reading (any thread, no locks) ----------------------------------------------

    def is_live(self, doc: int) -> bool:
        live = self._live
        return doc < len(live) and bool(live[doc])

    def lookup(self, grams: npt.NDArray[np.uint64]) -> Hits:
        state = self._state
        live = self._live
        main_left, main_counts = state.main.find(grams)
        delta_left, delta_counts = state.delta.find(grams)
        frequencies = main_counts + delta_counts
        wanted = (frequencies > 0) & (frequencies <= self.max_postings)
        parts = [
            _expand(state.main, main_left, main_counts, wanted, frequencies),
            _expand(state.delta, delta_left, delta_counts, wanted, frequencies),
        ]
        rarity = np.where(frequencies > self.max_postings, 1, np.where(wanted, -1, 0))
        columns = [np.concatenate([part[i] for part in parts]) for i in range(4)]
        hits = Hits(columns[0], columns[1], columns[2], columns[3], rarity.astype(np.int8))
        docs = hits.docs
        alive = np.zeros(len(docs), dtype=bool)
        in_range = docs < len(live)
        alive[in_range] = live[docs[in_range]].astype(bool)
        if alive.all():
            return hits
        return Hits(
            hits.query_positions[alive],
            docs[alive],
            hits.doc_positions[alive],
            hits.frequencies[alive],
            hits.rarity,
        )

    def stats(self) -> IndexStats:
        state = self._state
        return IndexStats(
            documents=self._documents,
            fingerprints=self._fingerprints,
            memory_bytes=state.main.nbytes + state.delta.nbytes + self._live.nbytes,
        )


def _expand(
    layer: _Layer,
    left: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    wanted: npt.NDArray[np.bool_],
    frequencies: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[Any], ...]:
    """One row per posting of the wanted query positions, without a Python loop."""
    rows = np.flatnonzero(wanted & (counts > 0))
    per_row = counts[rows]
    total = int(per_row.sum())
    # Row r covers index entries [left[r], left[r] + per_row[r]).
    offsets = np.repeat(left[rows] - np.cumsum(per_row) + per_row, per_row)
    entries = offsets + np.arange(total)
    return (
        np.repeat(rows, per_row).astype(np.int64),
        layer.docs[entries],
        layer.positions[entries],
        np.repeat(frequencies[rows], per_row),
    )
