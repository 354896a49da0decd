"""Analysing works to index (normalise, hash, winnow) in worker processes.

Analysis is most of what indexing costs (about 0.4 ms of one core per 400-word work), so
a replica catching up after a bulk import can use every core it has: each batch is split
across `workers` processes (started with `spawn`: never a fork of a process running gRPC
threads). With no workers, works are analysed in the serving process.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from services.provenance.domain.documents import IndexedText, to_index

_SMALL_BATCH = 32  # below this, shipping the texts costs more than it saves


def analyse_all(bodies: list[str]) -> list[IndexedText]:
    """Fingerprints and word records, made where the texts are analysed: a worker sends
    back what will be stored, not the analysis (three times its size) to be reduced in
    the serving process."""
    return [to_index(body) for body in bodies]


class AnalysisPool:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 0
            else None
        )
        # Started now, not by the first batch: a spawned worker takes a second or two to
        # import what analysis needs, which would stall the first batch of a bulk import.
        if self._pool is not None:
            for _ in range(workers):
                self._pool.submit(analyse_all, [])

    def analyse(self, bodies: list[str]) -> list[IndexedText]:
        if self._pool is None or len(bodies) < _SMALL_BATCH:
            return analyse_all(bodies)
        size = -(-len(bodies) // self._workers)
        chunks = [bodies[i : i + size] for i in range(0, len(bodies), size)]
        return [text for part in self._pool.map(analyse_all, chunks) for text in part]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
