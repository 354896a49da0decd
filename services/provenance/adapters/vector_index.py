"""The in-memory nearest-neighbour index over works' sentences: candidates, not verdicts.

It answers "which stored sentences are nearest to these?"; the checker then re-ranks
the candidates against the stored int8 vectors (domain.paraphrase.rerank), so every
reported similarity is exact whichever form the index is in. It has two forms:

- **Small** (fewer than `compress_at` sentences): an HNSW graph over int8 vectors
  (usearch), about 1 kB a sentence with its links. usearch was chosen over faiss's HNSW
  after measuring both (bench/paraphrase_bench.py): it takes removals, faiss's graph
  does not.
- **Compressed** (from `compress_at` sentences on, for good): an inverted file with
  product-quantised codes (faiss IVF-PQ): `code_bytes` bytes and an 8-byte id a
  sentence, no graph: 40 bytes a sentence counted, about 80 resident (the lists grow by
  doubling), instead of about 1,000. Its coarse lists and code books are trained once,
  on every vector the graph held; the search visits `probes` lists. Removal scans the
  lists' ids (milliseconds at millions). bench/paraphrase_bench.py measured 32-byte
  codes finding as many sources as 48-byte ones (0.847 and 0.848; the graph 0.869).

Keys pack the document id and the sentence's number. Only the indexer's thread adds
and removes (writers take turns on a lock); graph searches do not wait for it, searches
of the compressed form do (faiss's lists are not safe to read while they grow).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from services.provenance.domain.paraphrase import MAX_SENTENCES, Neighbour, SentenceRecord

_SHIFT = 12  # key = document id << 12 | sentence number (MAX_SENTENCES = 4096)
assert 1 << _SHIFT == MAX_SENTENCES
_POINTS_PER_LIST = 40  # training vectors per coarse list (faiss asks for at least 39)
_ADD_PIECE = 4_096  # vectors added to the compressed form per turn of the lock
# The code books' 256 centroids a sub-vector want at least 39 training vectors each.
MIN_COMPRESS_AT = 256 * 39


@dataclass(frozen=True)
class VectorStats:
    documents: int
    sentences: int
    memory_bytes: int
    compressed: bool = False


class SentenceVectors:
    def __init__(
        self,
        dimensions: int,
        connectivity: int = 16,
        compress_at: int = 32_768,
        code_bytes: int = 32,
        probes: int = 16,
    ) -> None:
        from usearch.index import Index

        if dimensions % code_bytes:
            raise ValueError(f"code_bytes ({code_bytes}) must divide dimensions ({dimensions})")
        if compress_at < MIN_COMPRESS_AT:
            raise ValueError(f"compress_at must be at least {MIN_COMPRESS_AT} sentences")
        self.dimensions = dimensions
        self._graph: Any = Index(
            ndim=dimensions,
            metric="cos",
            dtype="i8",
            connectivity=connectivity,
            expansion_add=64,
            expansion_search=48,
            multi=False,
        )
        self._compressed: Any = None  # a faiss IndexIVFPQ once compress_at is reached
        self._compress_at = compress_at
        self._code_bytes = code_bytes
        self._probes = probes
        self._sentences: dict[int, int] = {}  # document id -> sentences indexed
        self._lock = threading.Lock()

    @property
    def compressed(self) -> bool:
        """Whether search reports estimates (compressed) rather than exact cosines."""
        return self._compressed is not None

    def documents(self) -> set[int]:
        return set(self._sentences)

    def add(self, records: Sequence[tuple[int, SentenceRecord]], threads: int = 1) -> None:
        keys: list[npt.NDArray[np.uint64]] = []
        vectors: list[npt.NDArray[np.int8]] = []
        with self._lock:
            for doc_id, record in records:
                if doc_id in self._sentences:
                    continue
                self._sentences[doc_id] = len(record)
                if len(record):
                    keys.append(_keys(doc_id, len(record)))
                    vectors.append(record.vectors)
            if not keys:
                return
            if self._compressed is None:
                self._graph.add(np.concatenate(keys), np.concatenate(vectors), threads=threads)
                if len(self._graph) >= self._compress_at:
                    self._compress()
                return
        # Compressed: added in pieces, so a search waits for one piece, not a restart's
        # whole batch.
        all_keys = np.concatenate(keys).astype(np.int64)
        all_vectors = np.concatenate(vectors)
        for i in range(0, len(all_keys), _ADD_PIECE):
            piece = _unit(all_vectors[i : i + _ADD_PIECE])
            with self._lock:
                self._compressed.add_with_ids(piece, all_keys[i : i + _ADD_PIECE])

    def _compress(self) -> None:
        """Train the coarse lists and code books on every vector the graph holds, move
        them all into the compressed form, and drop the graph."""
        import faiss

        keys = np.asarray(self._graph.keys, dtype=np.uint64)
        vectors = _unit(np.asarray(self._graph.get(keys, dtype="i8")))
        lists = max(1, len(keys) // _POINTS_PER_LIST)
        coarse = faiss.IndexFlatIP(self.dimensions)
        index = faiss.IndexIVFPQ(
            coarse, self.dimensions, lists, self._code_bytes, 8, faiss.METRIC_INNER_PRODUCT
        )
        index.train(vectors)
        index.add_with_ids(vectors, keys.astype(np.int64))
        index.nprobe = min(self._probes, lists)
        self._compressed = index
        self._graph = None

    def remove(self, doc_ids: Iterable[int]) -> None:
        with self._lock:
            popped = [(d, self._sentences.pop(d, None)) for d in doc_ids]
            keys = [_keys(d, n) for d, n in popped if n]
            if not keys:
                return
            if self._compressed is not None:
                import faiss

                selector = faiss.IDSelectorBatch(np.concatenate(keys).astype(np.int64))
                self._compressed.remove_ids(selector)
            else:
                self._graph.remove(np.concatenate(keys))

    def search(self, vectors: npt.NDArray[np.int8], count: int) -> list[list[Neighbour]]:
        """Each vector's `count` nearest stored sentences, nearest first; similarities are
        exact cosines in the small form, estimates in the compressed one."""
        if not len(vectors) or not self._sentences:
            return [[] for _ in range(len(vectors))]
        graph = self._graph  # read first: the compressed form is in place before it goes
        compressed = self._compressed
        if compressed is not None:
            with self._lock:
                similarities, found = compressed.search(_unit(vectors), count)
            return [
                [_neighbour(int(k), float(s)) for k, s in zip(row, sims, strict=True) if k >= 0]
                for row, sims in zip(found, similarities, strict=True)
            ]
        result = graph.search(vectors, count, threads=1)
        keys = np.atleast_2d(result.keys)
        distances = np.atleast_2d(result.distances)
        counts = np.atleast_1d(getattr(result, "counts", [len(keys[0])]))
        return [
            [
                _neighbour(int(k), 1.0 - float(d))
                for k, d in zip(
                    keys[row, : counts[row]], distances[row, : counts[row]], strict=True
                )
            ]
            for row in range(len(vectors))
        ]

    def stats(self) -> VectorStats:
        sentences = sum(self._sentences.values())
        compressed = self._compressed
        if compressed is None:
            memory = int(self._graph.memory_usage)
        else:
            # codes and ids in the lists, the coarse centroids and the code books
            memory = (
                int(compressed.ntotal) * (self._code_bytes + 8)
                + compressed.nlist * self.dimensions * 4
                + int(compressed.pq.centroids.size()) * 4
            )
        return VectorStats(len(self._sentences), sentences, memory, compressed is not None)


def _unit(vectors: npt.NDArray[np.int8]) -> npt.NDArray[np.float32]:
    """int8 vectors as float32 unit vectors (inner product = cosine)."""
    out = vectors.astype(np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out / np.maximum(norms, 1e-9))


def _neighbour(key: int, similarity: float) -> Neighbour:
    return Neighbour(key >> _SHIFT, key & (MAX_SENTENCES - 1), similarity)


def _keys(doc_id: int, count: int) -> npt.NDArray[np.uint64]:
    return (np.uint64(doc_id) << np.uint64(_SHIFT)) + np.arange(count, dtype=np.uint64)
