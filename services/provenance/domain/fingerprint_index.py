"""The in-memory query index: a compact sorted main layer, a small delta, a liveness map.

A posting is a fingerprint's key and the document holding it. The key is the top 48 bits
of the 64-bit 4-gram hash (a false match in 48 bits is about one query in ten million at
a billion postings, and verification rejects it anyway).

- `main` keeps 8 bytes per posting: the key's low 32 bits (uint32) and the document id
  (uint32), sorted by key. The key's top bits are not stored: a directory of where each
  bucket of keys (their top `bits` bits, at least 16) starts says which bucket an entry
  is in, with about 16 entries per bucket (a quarter of a byte per posting more). A
  lookup reads two directory entries and one short run of keys.
- recent postings are kept as full keys in a few sorted runs (each batch is a run; a run
  is merged, in linear time, into the one before it once that one is no more than four
  times its size, so a batch costs time in proportion to itself, not to everything
  indexed since the last merge); when they grow past an eighth of main, they are folded
  into a new main a range of buckets per step, dropping postings of removed documents.
  The steps are spread over the batches that follow (FOLD_PACE postings moved per posting
  added), so no batch waits for a whole fold; lookups meanwhile take keys below the
  fold's boundary from the new main and the rest from the old main and the folded runs.
  Both mains live in their own memory mappings: pages of the old one that no lookup can
  still read (every state published before them is gone: weak references tell) are
  handed back as the fold goes, so old and new are never both whole in memory.
- Removing a document flips its entry in `live`; lookups drop dead postings at once, so
  a deletion takes effect immediately, before any merge.
- One writer (the indexing thread) builds new arrays and swaps a single reference;
  readers take the reference once per lookup and never lock.
Document ids are the database's ids of work versions: never reused, so a dead id can
never come back to life. Where a fingerprint sits in its document is not kept:
verification finds it in the document's words.
"""

from __future__ import annotations

import mmap
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from services.provenance.domain.documents import Fingerprints

DocIds = npt.NDArray[np.uint32]
Keys = npt.NDArray[np.uint64]
MIN_DELTA_MERGE = 200_000
KEY_BITS = 48
_KEY_SHIFT = np.uint64(64 - KEY_BITS)
_LOW = np.uint64(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4B)  # odd: multiplying by it permutes 48-bit keys
_KEY_MASK = np.uint64((1 << KEY_BITS) - 1)
_MIN_BITS = KEY_BITS - 32  # the directory holds at least the bits the arrays do not
_PER_BUCKET = 16
_WINDOW_LIMIT = 96
_FOLD_STEPS = 256  # about how many steps a fold of a large main takes
_MIN_STEP = 16_384


def keys_of(hashes: npt.NDArray[np.uint64]) -> Keys:
    """The hashes' top 48 bits, mixed (times an odd constant, modulo 2**48: a bijection)
    so that keys spread evenly over the directory's buckets. The stored hashes are the
    smallest of their windows (winnowing), so their top bits are mostly zero; unmixed,
    the lowest buckets would hold seven times the mean."""
    return ((hashes >> _KEY_SHIFT) * _MIX) & _KEY_MASK


@dataclass(frozen=True)
class _Delta:
    """Recent postings as full keys, sorted: small, searched by bisection."""

    keys: Keys
    docs: DocIds

    @staticmethod
    def empty() -> _Delta:
        return _Delta(np.empty(0, np.uint64), np.empty(0, np.uint32))

    @staticmethod
    def of(documents: Sequence[tuple[int, Fingerprints]]) -> _Delta:
        if not documents:
            return _Delta.empty()
        keys = keys_of(np.concatenate([f.hashes for _, f in documents]))
        docs = np.repeat(
            np.fromiter((d for d, _ in documents), np.uint32, len(documents)),
            [len(f) for _, f in documents],
        )
        order = np.argsort(keys, kind="stable")
        return _Delta(keys[order], docs[order])

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.docs.nbytes

    def merge(self, other: _Delta) -> _Delta:
        """Both sorted by key; linear time."""
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        keys, docs = _merge_sorted(self.keys, self.docs, other.keys, other.docs)
        return _Delta(keys, docs)

    def find(self, keys: Keys) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        left = np.searchsorted(self.keys, keys, side="left")
        return left, np.searchsorted(self.keys, keys, side="right") - left


def _merge_sorted(
    keys_a: Keys, docs_a: DocIds, keys_b: Keys, docs_b: DocIds
) -> tuple[Keys, DocIds]:
    slots = np.searchsorted(keys_a, keys_b, side="right") + np.arange(len(keys_b))
    theirs = np.zeros(len(keys_a) + len(keys_b), dtype=bool)
    theirs[slots] = True
    keys = np.empty(len(theirs), dtype=np.uint64)
    docs = np.empty(len(theirs), dtype=np.uint32)
    keys[theirs], keys[~theirs] = keys_b, keys_a
    docs[theirs], docs[~theirs] = docs_b, docs_a
    return keys, docs


def _runs_of_sorted(values: Keys) -> tuple[Keys, npt.NDArray[np.int64]]:
    """Each distinct value of a sorted array and how many times it occurs (what
    `np.unique(..., return_counts=True)` gives, in linear time: no sort)."""
    if not len(values):
        return values, np.empty(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return values[starts], np.diff(np.append(starts, len(values)))


def _bits_for(postings: int) -> int:
    return max(_MIN_BITS, int(np.ceil(np.log2(max(1, postings) / _PER_BUCKET))))


@dataclass(frozen=True)
class _Main:
    """The bulk: low 32 bits of each key and its document, bucketed by the key's top bits."""

    low: npt.NDArray[np.uint32]
    docs: DocIds
    bits: int
    starts: npt.NDArray[np.uint32]  # 2**bits + 1: where each bucket starts
    window: int  # entries a lookup scans in a bucket (crowded buckets are bisected)

    @staticmethod
    def of_sorted(keys: Keys, docs: DocIds, bits: int | None = None) -> _Main:
        bits = bits or _bits_for(len(keys))
        counts = np.bincount(
            (keys >> np.uint64(KEY_BITS - bits)).astype(np.int64), minlength=1 << bits
        )
        low, mapped_docs = _mapped(len(keys), np.uint32), _mapped(len(keys), np.uint32)
        low[:] = keys & _LOW
        mapped_docs[:] = docs
        return _Main._with_counts(low, mapped_docs, bits, counts)

    @staticmethod
    def _with_counts(
        low: npt.NDArray[np.uint32], docs: DocIds, bits: int, counts: npt.NDArray[np.int64]
    ) -> _Main:
        starts = np.zeros((1 << bits) + 1, dtype=np.uint32)
        np.cumsum(counts, out=starts[1:])
        # The window covers all but the rarest, crowded buckets (a phrase repeated across
        # many works fills one); lookups there bisect instead.
        window = int(np.percentile(counts, 99.99)) + 1 if len(low) else 1
        return _Main(low, docs, bits, starts, min(window, _WINDOW_LIMIT))

    @staticmethod
    def empty() -> _Main:
        return _Main.of_sorted(np.empty(0, np.uint64), np.empty(0, np.uint32))

    def __len__(self) -> int:
        return len(self.low)

    @property
    def nbytes(self) -> int:
        return self.low.nbytes + self.docs.nbytes + self.starts.nbytes

    def keys(self, first_bucket: int, last_bucket: int) -> Keys:
        """Full keys of the entries in buckets [first, last)."""
        sizes = np.diff(self.starts[first_bucket : last_bucket + 1]).astype(np.int64)
        top = np.repeat(np.arange(first_bucket, last_bucket, dtype=np.uint64), sizes)
        lo, hi = int(self.starts[first_bucket]), int(self.starts[last_bucket])
        shift = np.uint64(KEY_BITS - self.bits)
        # The bucket gives the key's top bits, the stored value its low 32 (they overlap
        # when the directory holds more than 16 bits).
        return ((top << shift) & ~_LOW) | self.low[lo:hi].astype(np.uint64)

    def find(self, keys: Keys) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """For each key: where its postings start, and how many there are."""
        if len(self) == 0:
            empty = np.zeros(len(keys), dtype=np.int64)
            return empty, empty
        bucket = (keys >> np.uint64(KEY_BITS - self.bits)).astype(np.int64)
        lo = self.starts[bucket].astype(np.int64)
        size = self.starts[bucket + 1].astype(np.int64) - lo
        needles = (keys & _LOW).astype(np.uint32)[:, None]
        steps = np.arange(self.window)
        window = self.low[np.minimum(lo[:, None] + steps, len(self.low) - 1)]
        inside = steps < size[:, None]
        left = lo + ((window < needles) & inside).sum(axis=1)
        right = lo + ((window <= needles) & inside).sum(axis=1)
        for i in np.flatnonzero(size > self.window):  # boilerplate buckets: bisect them
            a, b = int(lo[i]), int(lo[i] + size[i])
            run = self.low[a:b]
            left[i] = a + np.searchsorted(run, needles[i, 0], side="left")
            right[i] = a + np.searchsorted(run, needles[i, 0], side="right")
        return left, right - left


@dataclass(frozen=True)
class _Folding:
    """What lookups see of a fold under way: keys below `boundary` are in `new` (final
    there), the others in the old main and `frozen` (the runs being folded)."""

    new: _Main  # its buckets below the boundary are written; the rest is not read
    boundary: int
    frozen: _Delta


class _Fold:
    """Folding recent postings into main, a range of buckets per step, into one new pair of
    arrays. Steps are spread over the batches that follow, so no batch waits for a whole
    fold; the old main's pages that every reader is done with are handed back to the
    operating system as the fold goes, so old and new are never both whole in memory.

    Only the writer touches this object; readers see `view()`, published in the state."""

    def __init__(self, old: _Main, frozen: _Delta, live: npt.NDArray[np.uint16]) -> None:
        self.old, self.frozen, self.live = old, frozen, live
        total = len(old) + len(frozen)
        self.bits = max(old.bits, _bits_for(total))
        self.low = _mapped(total, np.uint32)
        self.docs = _mapped(total, np.uint32)
        self.counts = np.zeros(1 << self.bits, dtype=np.int64)
        self.starts = np.zeros((1 << self.bits) + 1, dtype=np.uint32)
        self.written = 0
        self.next_bucket = 0  # of the old main's buckets
        self.buckets = 1 << old.bits
        self.chunk = max(_MIN_STEP, len(old) // _FOLD_STEPS)  # postings of old main per step
        self.window = old.window if len(old) else _WINDOW_LIMIT
        self.released = 0  # old main entries before this are given back

    @property
    def done(self) -> bool:
        return self.next_bucket >= self.buckets

    def step(self) -> int:
        """Fold the next range of buckets; returns how many postings it moved."""
        old, frozen = self.old, self.frozen
        first = self.next_bucket
        # As many postings per step (a phrase repeated across many works fills one bucket).
        wanted = np.uint32(min(int(old.starts[first]) + self.chunk, len(old)))
        last = max(first + 1, int(old.starts.searchsorted(wanted, side="right")) - 1)
        lo, hi = int(old.starts[first]), int(old.starts[last])
        shift = KEY_BITS - old.bits
        bounds = np.array([first << shift, last << shift], dtype=np.uint64)
        d_lo, d_hi = np.searchsorted(frozen.keys, bounds)
        keys, docs = _merge_sorted(
            old.keys(first, last), old.docs[lo:hi], frozen.keys[d_lo:d_hi], frozen.docs[d_lo:d_hi]
        )
        alive = self.live[docs] != 0
        keys, docs = keys[alive], docs[alive]
        end = self.written + len(keys)
        self.low[self.written : end] = keys & _LOW
        self.docs[self.written : end] = docs
        # New buckets nest in old ones (the new main has at least as many bits).
        scale = self.bits - old.bits
        new_first, new_last = first << scale, last << scale
        ids, sizes = _runs_of_sorted(keys >> np.uint64(KEY_BITS - self.bits))
        self.counts[ids.astype(np.int64)] += sizes
        self.starts[new_first + 1 : new_last + 1] = self.written + np.cumsum(
            self.counts[new_first:new_last]
        )
        self.written = end
        self.next_bucket = last
        return (hi - lo) + int(d_hi - d_lo)

    def view(self) -> _Folding:
        new = _Main(self.low, self.docs, self.bits, self.starts, self.window)
        return _Folding(new, self.next_bucket << (KEY_BITS - self.old.bits), self.frozen)

    def result(self) -> _Main:
        return _Main._with_counts(
            self.low[: self.written], self.docs[: self.written], self.bits, self.counts
        )

    def reads_from(self) -> int:
        """Where lookups on the state published now read the old main from."""
        return int(self.old.starts[self.next_bucket])

    def release_unread(self, readers: list[tuple[weakref.ref[_State], int]]) -> None:
        """Give back the old main's pages that no published state still reads."""
        unread = min((at for ref, at in readers if ref() is not None), default=len(self.old))
        if unread > self.released:
            _release(self.old.low, self.released, unread)
            _release(self.old.docs, self.released, unread)
            self.released = unread


_MAP_AT_BYTES = 1 << 20


def _mapped(length: int, dtype: type[np.unsignedinteger[Any]]) -> npt.NDArray[Any]:
    """An array in its own private anonymous mapping (large ones), whose pages can be
    given back one range at a time; pages never written are never resident."""
    size = length * np.dtype(dtype).itemsize
    if size < _MAP_AT_BYTES:
        return np.empty(length, dtype=dtype)
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    return np.frombuffer(area, dtype=dtype, count=length)


def _release(array: npt.NDArray[Any], start: int, stop: int) -> None:
    """Hand back to the operating system the pages of a mapped array that hold entries
    from `start` (or before: entries before it were handed back or are unread too) up to
    `stop`; they read as zeros afterwards. Arrays not in a mapping keep theirs."""
    area = array.base
    while isinstance(area, np.ndarray):
        area = area.base
    if isinstance(area, memoryview):
        area = area.obj
    if not isinstance(area, mmap.mmap):
        return
    origin = np.frombuffer(area, dtype=np.uint8, count=1).ctypes.data
    offset = array.ctypes.data - origin
    page = mmap.PAGESIZE
    first = max((offset + start * array.itemsize) // page * page, -(-offset // page) * page)
    last = (offset + stop * array.itemsize) // page * page
    if last > first:
        area.madvise(mmap.MADV_DONTNEED, first, last - first)


@dataclass(frozen=True)
class Hits:
    """Index postings matching a text's 4-grams (one row per posting)."""

    query_positions: npt.NDArray[np.int64]
    docs: DocIds
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
    main: _Main
    # Recent postings in a few sorted runs, largest first, each at least RUN_RATIO times
    # the next: a batch is merged only with runs of its own size (linear time in them),
    # not with everything indexed since the last merge into main.
    runs: tuple[_Delta, ...]
    folding: _Folding | None = None  # a fold of earlier runs into main, under way

    def find(self, keys: Keys) -> list[tuple[DocIds, npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Per layer: its documents, and for each key where its postings start there and
        how many there are."""
        folding = self.folding
        if folding is None:
            found = [(self.main.docs, *self.main.find(keys))]
        else:
            below = keys < np.uint64(folding.boundary)
            found = [
                _find_where(folding.new, keys, below),
                _find_where(self.main, keys, ~below),
                _find_where(folding.frozen, keys, ~below),
            ]
        return found + [(run.docs, *run.find(keys)) for run in self.runs]

    @property
    def nbytes(self) -> int:
        layers = self.main.nbytes + sum(run.nbytes for run in self.runs)
        if self.folding is not None:
            new = self.folding.new
            written = int(new.starts[self.folding.boundary >> (KEY_BITS - new.bits)])
            layers += 8 * written + new.starts.nbytes + self.folding.frozen.nbytes
        return layers


def _find_where(
    layer: _Main | _Delta, keys: Keys, where: npt.NDArray[np.bool_]
) -> tuple[DocIds, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    left = np.zeros(len(keys), dtype=np.int64)
    counts = np.zeros(len(keys), dtype=np.int64)
    left[where], counts[where] = layer.find(keys[where])
    return layer.docs, left, counts


RUN_RATIO = 4
# Postings a fold moves per posting a batch adds: a fold ends long before the runs grow
# back to the size that starts the next one (an eighth of main).
FOLD_PACE = 16


class FingerprintIndex:
    def __init__(self, max_postings: int = 64) -> None:
        # A hash held by more postings than this is boilerplate ("all rights reserved",
        # bylines, wire credits) and ignored: it says nothing about where a text came from.
        self.max_postings = max_postings
        self._state = _State(_Main.empty(), ())
        self._fold: _Fold | None = None
        # Every published state a lookup may still hold, with where it reads the main
        # being folded from (pages before the lowest are given back).
        self._readers: list[tuple[weakref.ref[_State], int]] = []
        # Per document id: 0 when absent or removed, else 1 + its fingerprint count.
        self._live = np.zeros(1024, dtype=np.uint16)
        self._documents = 0
        self._fingerprints = 0  # of live documents (dead ones wait for the next merge)
        self._write_lock = threading.Lock()
        # How many times the index has been written (followers skip rounds when unchanged).
        self.writes = 0

    # -- writing (one writer at a time) --------------------------------------------

    def load(self, documents: Iterable[tuple[int, bytes]], chunk: int = 100_000) -> None:
        """Bulk build from stored fingerprints (`Fingerprints.to_bytes()`): replaces the
        whole index. Bytes are joined per chunk and decoded once, with no object per
        document, which keeps start-up fast and its memory close to the result's."""
        with self._write_lock:
            self._live = np.zeros(1024, dtype=np.uint16)
            self._documents = 0
            self._fingerprints = 0
            parts: list[_Delta] = []
            ids: list[int] = []
            sizes: list[int] = []
            hashes: list[bytes] = []
            for doc_id, data in documents:
                count = len(data) // 10
                ids.append(doc_id)
                sizes.append(count)
                hashes.append(data[: 8 * count])
                if len(ids) >= chunk:
                    parts.append(self._decode(ids, sizes, hashes))
                    ids, sizes, hashes = [], [], []
            parts.append(self._decode(ids, sizes, hashes))
            keys = np.concatenate([part.keys for part in parts])
            docs = np.concatenate([part.docs for part in parts])
            del parts
            order = np.argsort(keys)
            main = _Main.of_sorted(keys[order], docs[order])
            self._fold = None
            self._publish(_State(main, ()))
            self.writes += 1

    def _decode(self, ids: list[int], sizes: list[int], hashes: list[bytes]) -> _Delta:
        doc_ids = np.array(ids, dtype=np.uint32)
        counts = np.array(sizes, dtype=np.int64)
        if len(ids):
            self._grow(int(doc_ids.max()))
            self._live[doc_ids] = np.minimum(counts, 65_534) + 1
            self._documents += len(ids)
            self._fingerprints += int(counts.sum())
        keys = keys_of(np.frombuffer(b"".join(hashes), dtype="<u8").astype(np.uint64))
        return _Delta(keys, np.repeat(doc_ids, counts))

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
            runs = list(state.runs)
            if len(batch):
                runs.append(batch)
            while len(runs) > 1 and len(runs[-2]) <= RUN_RATIO * len(runs[-1]):
                newest = runs.pop()
                runs[-1] = runs[-1].merge(newest)
            for doc in removed:
                if doc < len(self._live) and self._live[doc]:
                    self._fingerprints -= int(self._live[doc]) - 1
                    self._live[doc] = 0
                    self._documents -= 1
            recent = sum(len(run) for run in runs)
            due = recent > max(MIN_DELTA_MERGE, len(state.main) // 8)
            fold = under_way = self._fold
            if fold is None and due:
                delta = runs[0]
                for run in runs[1:]:
                    delta = delta.merge(run)
                fold, runs = _Fold(state.main, delta, self._live), []
                # Any state published before reads this main from its start.
                self._readers = [(ref, 0) for ref, _ in self._readers]
            if fold is None:
                self._publish(_State(state.main, tuple(runs)))
            else:
                # The next fold is due before this one ended: end this one now.
                self._advance(fold, tuple(runs), len(batch), finish=due and under_way is not None)
            self.writes += 1

    def settle(self) -> None:
        """Finish a fold under way: the writer has nothing to add (its feed is drained),
        and lookups are faster on one main. Step by step, each published, so the old
        main's pages still go back as it goes."""
        with self._write_lock:
            while self._fold is not None:
                self._advance(self._fold, self._state.runs, 0, finish=False)

    def _advance(self, fold: _Fold, runs: tuple[_Delta, ...], added: int, finish: bool) -> None:
        """Fold as many postings as the batch added, times FOLD_PACE (all that is left
        when the next fold is already due), then publish the result."""
        fold.live = self._live  # it may have grown
        moved = 0
        while not fold.done and (finish or moved == 0 or moved < FOLD_PACE * added):
            moved += fold.step()
        if fold.done:
            self._fold = None
            self._publish(_State(fold.result(), runs))
            return
        self._fold = fold
        self._publish(_State(fold.old, runs, fold.view()), fold.reads_from())
        fold.release_unread(self._readers)

    def _publish(self, state: _State, reads_from: int = 0) -> None:
        """Make `state` the one lookups take, remembering it while any lookup may hold it."""
        self._state = state
        self._readers = [(ref, at) for ref, at in self._readers if ref() is not None]
        self._readers.append((weakref.ref(state), reads_from))

    def _mark_live(self, documents: Sequence[tuple[int, Fingerprints]]) -> _Delta:
        if documents:
            self._grow(max(doc for doc, _ in documents))
            for doc, prints in documents:
                if not self._live[doc]:
                    self._live[doc] = 1 + min(len(prints), 65_534)
                    self._documents += 1
                    self._fingerprints += len(prints)
        return _Delta.of(documents)

    # -- reading (any thread, no locks) ----------------------------------------------

    def live_documents(self) -> npt.NDArray[np.int64]:
        """Ids of the documents searchable now."""
        return np.flatnonzero(self._live).astype(np.int64)

    def is_live(self, doc: int) -> bool:
        live = self._live
        return doc < len(live) and bool(live[doc])

    def lookup(self, grams: npt.NDArray[np.uint64]) -> Hits:
        state = self._state
        live = self._live
        keys = keys_of(grams)
        found = state.find(keys)
        frequencies = found[0][2].copy()
        for _, _, counts in found[1:]:
            frequencies += counts
        wanted = (frequencies > 0) & (frequencies <= self.max_postings)
        parts = [_expand(docs, left, counts, wanted, frequencies) for docs, left, counts in found]
        rarity = np.where(frequencies > self.max_postings, 1, np.where(wanted, -1, 0))
        columns = [np.concatenate([part[i] for part in parts]) for i in range(3)]
        hits = Hits(columns[0], columns[1], columns[2], rarity.astype(np.int8))
        docs = hits.docs
        alive = np.zeros(len(docs), dtype=bool)
        in_range = docs < len(live)
        alive[in_range] = live[docs[in_range]].astype(bool)
        if alive.all():
            return hits
        return Hits(hits.query_positions[alive], docs[alive], hits.frequencies[alive], hits.rarity)

    def stats(self) -> IndexStats:
        state = self._state
        return IndexStats(
            documents=self._documents,
            fingerprints=self._fingerprints,
            memory_bytes=state.nbytes + self._live.nbytes,
        )


def _expand(
    docs: DocIds,
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
        docs[entries],
        np.repeat(frequencies[rows], per_row),
    )
