"""The semantic stage: embedding works off the request path, and checking texts by meaning.

`SemanticIndexer` keeps the vector index in step with the lexical index of this replica
(the set of live documents is the lexical index's: a work deleted or revised leaves
both). Each round it drops what is no longer live, loads the stored sentences of live
documents it lacks (what any replica embedded before: a restart embeds nothing again),
and embeds a batch of the rest from the catalog's text, storing what it computed. Its
lag (works not yet searchable by meaning) is reported in GetIndexStats.

`SemanticChecker` answers the semantic part of CheckText: the text's sentences are
embedded (those not already found by wording), their neighbours looked up, and pairs
verified (domain.paraphrase).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.matching import IndexedDocument, Match
from services.provenance.domain.paraphrase import (
    Neighbour,
    ParaphraseRules,
    Sentence,
    SentenceRecord,
    paraphrase_matches,
    quantise,
    rerank,
    sentences,
)
from services.provenance.domain.works import WorkText
from services.provenance.service_layer.caching import LruCache
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.errors import Violations

log = logging.getLogger(__name__)

_LOAD_BATCH = 2_000  # stored records read per round (a restart loads, it does not embed)
# The graph's cosines and the re-ranked ones differ by float rounding at most.
_ROUNDING = 1e-4
# Sentences a text checked in semantic mode may hold: each costs about 5-8 ms of CPU.
MAX_TEXT_SENTENCES = 200


class Encoder(Protocol):
    dimensions: int

    def encode(self, sentences: Sequence[str]) -> npt.NDArray[np.float32]: ...


class Vectors(Protocol):
    @property
    def compressed(self) -> bool: ...
    def documents(self) -> set[int]: ...
    def add(self, records: Sequence[tuple[int, SentenceRecord]], threads: int = 1) -> None: ...
    def remove(self, doc_ids: Iterable[int]) -> None: ...
    def search(self, vectors: npt.NDArray[np.int8], count: int) -> list[list[Neighbour]]: ...


class Texts(Protocol):
    def texts(self, works: list[str]) -> dict[str, WorkText]: ...


class DocumentSource(Protocol):
    def get(self, doc_ids: Iterable[int]) -> dict[int, IndexedDocument]: ...


class RecordSource(Protocol):
    """Stored sentence records (spans and exact int8 vectors) by document id."""

    def get(self, doc_ids: Iterable[int]) -> dict[int, SentenceRecord]: ...


class SentenceRecordCache(LruCache[SentenceRecord]):
    """Recently matched documents' sentence records, least recently used out."""

    def __init__(self, uow: UnitOfWorkFactory, model: str, capacity: int) -> None:
        def load(doc_ids: list[int]) -> dict[int, SentenceRecord]:
            with uow(write=False, autocommit=True) as u:
                return u.index.sentence_records(doc_ids, model)

        super().__init__(load, capacity)


@dataclass(frozen=True)
class SemanticProgress:
    documents: int  # searchable by meaning
    behind: int  # live in the lexical index, not yet searchable by meaning


class SemanticIndexer:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        catalog: Texts,
        lexical: FingerprintIndex,
        vectors: Vectors,
        encoder: Encoder,
        model: str,
        poll_seconds: float,
        batch: int = 32,
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self._lexical = lexical
        self._vectors = vectors
        self._encoder = encoder
        self._model = model
        self._poll = poll_seconds
        self._batch = batch
        # Documents whose text in the catalog is already newer: the lexical index will
        # replace them, and their successor is embedded instead.
        self._skipped: set[int] = set()
        self._behind = 0
        # The lexical index's write count when a round last found nothing to do: until it
        # moves, a round has nothing to do either (and builds no set of every document).
        self._settled = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def progress(self) -> SemanticProgress:
        return SemanticProgress(len(self._vectors.documents()), self._behind)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="semantic-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                done = self.run_once()
                failures = 0
            except Exception as error:  # a catalog or database outage: try again later
                failures += 1
                log.warning("semantic indexing paused (%s); retrying", error)
                done = 0
            if not done:
                self._stop.wait(self._poll * (1 + min(failures, 20)))

    def catch_up(self) -> int:
        """Run rounds until nothing is left (tests, tools); returns documents added."""
        total = 0
        while done := self.run_once():
            total += done
        return total

    def run_once(self) -> int:
        """One round; returns the documents added or removed."""
        writes = self._lexical.writes
        if writes == self._settled:
            return 0
        live = set(self._lexical.live_documents().tolist())
        have = self._vectors.documents()
        gone = have - live
        if gone:
            self._vectors.remove(gone)
            with self._uow() as uow:
                uow.index.drop_sentence_records(gone)
                uow.commit()
            self._skipped -= gone
        pending = sorted(live - have - self._skipped)
        self._behind = len(pending)
        if not pending:
            self._settled = writes
            return len(gone)
        with self._uow(write=False, autocommit=True) as uow:
            stored = uow.index.sentence_records(pending[:_LOAD_BATCH], self._model)
        if stored:  # loading what was embedded before (a start): every core helps
            self._vectors.add(list(stored.items()), threads=os.cpu_count() or 1)
            self._behind -= len(stored)
            return len(gone) + len(stored)
        embedded = self._embed(pending[: self._batch])
        self._behind -= len(embedded)
        return len(gone) + len(embedded) + len(self._skipped.intersection(pending))

    def _embed(self, doc_ids: list[int]) -> dict[int, SentenceRecord]:
        with self._uow(write=False, autocommit=True) as uow:
            versions = uow.index.current_versions(doc_ids)
        texts = self._catalog.texts(sorted({work for _, work, _ in versions}))
        bodies: dict[int, str] = {}
        for doc_id, work, version in versions:
            text = texts.get(work)
            if text is not None and text.version == version:
                bodies[doc_id] = text.body
        self._skipped.update(set(doc_ids) - set(bodies))
        found = {doc_id: sentences(body) for doc_id, body in bodies.items()}
        everything = [s.text for doc_sentences in found.values() for s in doc_sentences]
        vectors = self._encoder.encode(everything)
        records: dict[int, SentenceRecord] = {}
        offset = 0
        for doc_id, doc_sentences in found.items():
            n = len(doc_sentences)
            records[doc_id] = SentenceRecord.of(doc_sentences, vectors[offset : offset + n])
            offset += n
        with self._uow() as uow:
            uow.index.add_sentence_records(records, self._model)
            uow.commit()
        self._vectors.add(list(records.items()))
        return records


class SemanticChecker:
    def __init__(
        self,
        encoder: Encoder,
        vectors: Vectors,
        lexical: FingerprintIndex,
        documents: DocumentSource,
        records: RecordSource,
        rules: ParaphraseRules | None = None,
    ) -> None:
        self._encoder = encoder
        self._vectors = vectors
        self._lexical = lexical
        self._documents = documents
        self._records = records
        self.rules = rules or ParaphraseRules()

    def sentences_of(self, text: str) -> list[Sentence]:
        """The text's sentences; a text too long to check by meaning in one call is
        refused (before any other work)."""
        found = sentences(text)
        count = len(found)
        if count > MAX_TEXT_SENTENCES:
            v = Violations()
            v.add(
                "text",
                f"{count} sentences; semantic mode checks at most {MAX_TEXT_SENTENCES} per "
                "text: split it (CheckTexts streams many)",
            )
            v.raise_if_any("TEXT_TOO_LONG")
        return found

    def matches(
        self,
        text: str,
        text_words: int,
        exclude: set[int],
        quoted: Sequence[tuple[int, int]] = (),
        split: Sequence[Sentence] | None = None,
    ) -> list[Match]:
        """Works the text restates, other than those in `exclude` (found by wording).
        Sentences inside `quoted` spans (found by wording) are not embedded again;
        `split`: the text's sentences, when the caller has them already."""
        every = sentences(text) if split is None else split
        found = [s for s in every if not _inside(s.start, s.end, quoted)]
        if not found:
            return []
        vectors = quantise(self._encoder.encode([s.text for s in found]))
        rules = self.rules
        # Exact similarities (the graph) already rule out what falls short, before any
        # stored record is read; estimates (compressed) are all re-ranked.
        floor = -1.0 if self._vectors.compressed else rules.min_similarity - _ROUNDING
        candidates = [
            [
                n
                for n in near
                if n.similarity >= floor
                and n.doc_id not in exclude
                and self._lexical.is_live(n.doc_id)
            ]
            for near in self._vectors.search(vectors, rules.candidates)
        ]
        if not any(candidates):
            return []
        records = self._records.get({n.doc_id for near in candidates for n in near})
        close = [
            [n for n in near if n.similarity >= rules.min_similarity]
            for near in rerank(vectors, candidates, records, rules.neighbours)
        ]
        wanted = {n.doc_id for near in close for n in near}
        if not wanted:
            return []
        documents = self._documents.get(wanted)
        spans = {doc_id: records[doc_id].spans for doc_id in wanted}
        return paraphrase_matches(text_words, found, close, spans, documents, rules)


def _inside(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a <= start and end <= b for a, b in spans)
