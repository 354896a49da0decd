"""The in-memory nearest-neighbour index over works' sentences (usearch, HNSW, int8).

usearch was chosen over faiss after measuring both on the same vectors
(bench/paraphrase_bench.py prints the comparison): an HNSW graph that takes additions
and removals one work at a time without retraining, int8 vectors (a quarter of float32)
and thread-safe search. Keys pack the document id and the sentence's number; each
document's sentence spans stay beside the graph (8 bytes a sentence) so a neighbour can
be reported with its place in the work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.provenance.domain.paraphrase import MAX_SENTENCES, Neighbour, SentenceRecord

_SHIFT = 12  # key = document id << 12 | sentence number (MAX_SENTENCES = 4096)
assert 1 << _SHIFT == MAX_SENTENCES


@dataclass(frozen=True)
class VectorStats:
    documents: int
    sentences: int
    memory_bytes: int


class SentenceVectors:
    def __init__(self, dimensions: int, connectivity: int = 16) -> None:
        from usearch.index import Index

        self.dimensions = dimensions
        self._index = Index(
            ndim=dimensions,
            metric="cos",
            dtype="i8",
            connectivity=connectivity,
            expansion_add=64,
            expansion_search=48,
            multi=False,
        )
        self._spans: dict[int, npt.NDArray[np.uint32]] = {}
        self._lock = threading.Lock()  # writers take turns; searches do not wait

    def documents(self) -> set[int]:
        return set(self._spans)

    def spans(self, doc_ids: Iterable[int]) -> dict[int, npt.NDArray[np.uint32]]:
        spans = self._spans
        return {d: s for d in doc_ids if (s := spans.get(d)) is not None}

    def add(self, records: Sequence[tuple[int, SentenceRecord]], threads: int = 1) -> None:
        keys: list[npt.NDArray[np.uint64]] = []
        vectors: list[npt.NDArray[np.int8]] = []
        with self._lock:
            for doc_id, record in records:
                if doc_id in self._spans:
                    continue
                self._spans[doc_id] = record.spans
                if len(record):
                    keys.append(_keys(doc_id, len(record)))
                    vectors.append(record.vectors)
            if keys:
                self._index.add(np.concatenate(keys), np.concatenate(vectors), threads=threads)

    def remove(self, doc_ids: Iterable[int]) -> None:
        with self._lock:
            popped = [(d, self._spans.pop(d, None)) for d in doc_ids]
            keys = [_keys(d, len(s)) for d, s in popped if s is not None and len(s)]
            if keys:
                self._index.remove(np.concatenate(keys))

    def search(self, vectors: npt.NDArray[np.int8], count: int) -> list[list[Neighbour]]:
        if not len(vectors) or not len(self._index):
            return [[] for _ in range(len(vectors))]
        found = self._index.search(vectors, count, threads=1)
        keys = np.atleast_2d(found.keys)
        distances = np.atleast_2d(found.distances)
        counts = np.atleast_1d(getattr(found, "counts", [len(keys[0])]))
        out: list[list[Neighbour]] = []
        for row in range(len(vectors)):
            near = []
            n = int(counts[row])
            for key, distance in zip(keys[row, :n], distances[row, :n], strict=True):
                k = int(key)
                near.append(Neighbour(k >> _SHIFT, k & (MAX_SENTENCES - 1), 1.0 - float(distance)))
            out.append(near)
        return out

    def stats(self) -> VectorStats:
        spans = sum(s.nbytes for s in self._spans.values())
        memory = int(self._index.memory_usage) + spans
        return VectorStats(len(self._spans), len(self._index), memory)


def _keys(doc_id: int, count: int) -> npt.NDArray[np.uint64]:
    return (np.uint64(doc_id) << np.uint64(_SHIFT)) + np.arange(count, dtype=np.uint64)
