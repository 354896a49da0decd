"""The semantic index built from the catalog's feed into the real database (SQLite and
PostgreSQL): works embedded off the request path, deleted and revised works leaving it,
and a restarted replica loading stored vectors instead of embedding the corpus again."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import func, select

from services.provenance.adapters import tables
from services.provenance.adapters.sentence_encoder import SentenceEncoder, packaged_minilm
from services.provenance.adapters.vector_index import MIN_COMPRESS_AT, SentenceVectors
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.matching import MatchType
from services.provenance.domain.paraphrase import ParaphraseRules
from services.provenance.service_layer.checking import DocumentCache
from services.provenance.service_layer.indexing import IndexingService
from services.provenance.service_layer.semantic import (
    SemanticChecker,
    SemanticIndexer,
    SentenceRecordCache,
)
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime.database import Database
from services.runtime.event_relay import SqlCursorStore
from tests.integration.test_provenance_indexing import FakeCatalog
from tests.unit.test_provenance_paraphrase import (
    PARAPHRASE,
    UNRELATED,
    WORK_SENTENCE,
    _clustered_records,
)

RULES = ParaphraseRules(min_similarity=0.75, min_overlap=0.3)
WORK = "publishers/p/works/council"


class CountingEncoder:
    """The real model, counting the sentences it is asked to embed."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder
        self.dimensions = encoder.dimensions
        self.sentences = 0

    def encode(self, sentences: Sequence[str]) -> npt.NDArray[np.float32]:
        self.sentences += len(sentences)
        return self._encoder.encode(sentences)


@pytest.fixture(scope="module")
def model() -> SentenceEncoder:
    return SentenceEncoder(packaged_minilm())


class Replica:
    """One provenance replica's lexical and semantic indexes over a database."""

    def __init__(
        self,
        database: Database,
        catalog: FakeCatalog,
        model: SentenceEncoder,
        vectors: SentenceVectors | None = None,
    ) -> None:
        uow = UnitOfWorkFactory(database)
        self.encoder = CountingEncoder(model)
        self.lexical = IndexingService(
            uow,
            catalog,
            FingerprintIndex(),
            SqlCursorStore(database, tables.event_cursors, "catalog-works"),
            poll_seconds=0.05,
        )
        self.lexical.load()
        self.vectors = vectors or SentenceVectors(model.dimensions)
        self.semantic = SemanticIndexer(
            uow, catalog, self.lexical.index, self.vectors, self.encoder, "minilm", 0.05
        )
        self.records = SentenceRecordCache(uow, "minilm", 100)
        self.checker = SemanticChecker(
            self.encoder,
            self.vectors,
            self.lexical.index,
            DocumentCache(uow, 100),
            self.records,
            RULES,
        )

    def catch_up(self) -> None:
        self.lexical.catch_up()
        self.semantic.catch_up()

    def works_found(self, text: str) -> list[tuple[str, int]]:
        return [
            (m.document.work, m.document.version) for m in self.checker.matches(text, 30, set())
        ]


@pytest.fixture
def catalog() -> Iterator[FakeCatalog]:
    catalog = FakeCatalog()
    yield catalog


def _body(*middle: str) -> str:
    return " ".join(
        [
            "The annual report was published by the transport office this week.",
            *middle,
            "Residents will be able to comment on the plans until the end of next month.",
        ]
    )


def _stored_rows(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.sentence_vectors)).scalar())


def test_works_are_embedded_from_the_feed_and_found_by_meaning(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
) -> None:
    catalog.register(WORK, _body(WORK_SENTENCE))
    catalog.register("publishers/p/works/other", _body(UNRELATED))
    replica = Replica(database, catalog, model)
    replica.lexical.catch_up()
    assert replica.works_found(PARAPHRASE) == []  # not embedded yet: lexical only knows it
    replica.semantic.run_once()
    assert replica.semantic.progress.documents == 2 and replica.semantic.progress.behind == 0
    both = replica.works_found(f"{UNRELATED.upper()} {PARAPHRASE}")
    assert set(both) == {(WORK, 1), ("publishers/p/works/other", 1)}
    (match,) = replica.checker.matches(PARAPHRASE, 20, set())
    assert match.match_type is MatchType.PARAPHRASE
    (span,) = match.spans
    body = catalog.current[WORK].body
    assert body[span.work_start : span.work_end] == WORK_SENTENCE
    assert (span.query_start, span.query_end) == (0, len(PARAPHRASE))
    # Works found by wording are left to the lexical stage.
    doc = match.document.doc_id
    assert replica.checker.matches(PARAPHRASE, 20, {doc}) == []
    assert _stored_rows(database) == 2

    # A revision replaces the old vectors; a deletion removes them.
    catalog.register(WORK, _body(UNRELATED.replace("mining", "shipping")))
    replica.catch_up()
    assert replica.works_found(PARAPHRASE) == []
    assert _stored_rows(database) == 2
    catalog.delete(WORK)
    replica.catch_up()
    assert replica.semantic.progress.documents == 1
    assert _stored_rows(database) == 1


def test_a_restarted_replica_loads_vectors_instead_of_embedding_again(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
) -> None:
    catalog.register(WORK, _body(WORK_SENTENCE))
    for n in range(5):
        catalog.register(f"publishers/p/works/filler-{n}", _body(UNRELATED, f"Item {n} of a list."))
    first = Replica(database, catalog, model)
    first.catch_up()
    assert first.encoder.sentences > 0
    assert first.works_found(PARAPHRASE) == [(WORK, 1)]

    restarted = Replica(database, catalog, model)
    restarted.semantic.catch_up()
    assert restarted.encoder.sentences == 0
    assert restarted.semantic.progress.documents == 6
    assert restarted.works_found(PARAPHRASE) == [(WORK, 1)]


def test_a_text_newer_in_the_catalog_waits_for_its_own_document(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
) -> None:
    catalog.register(WORK, _body(UNRELATED))
    replica = Replica(database, catalog, model)
    replica.lexical.catch_up()
    catalog.register(WORK, _body(WORK_SENTENCE))  # version 2, not applied yet
    replica.semantic.catch_up()
    assert replica.semantic.progress.documents == 0  # version 1's text is gone: skipped
    replica.catch_up()
    assert replica.works_found(PARAPHRASE) == [(WORK, 2)]
    assert replica.encoder.sentences == 3 + 1  # version 2 once, and the text checked


def test_sentences_found_by_wording_are_not_embedded_again(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
) -> None:
    catalog.register(WORK, _body(WORK_SENTENCE))
    replica = Replica(database, catalog, model)
    replica.catch_up()
    before = replica.encoder.sentences
    text = f"{UNRELATED} {PARAPHRASE}"
    quoted = [(0, len(UNRELATED))]  # as if the lexical stage had found the first one
    (match,) = replica.checker.matches(text, 30, set(), quoted)
    assert replica.encoder.sentences == before + 1
    assert match.document.work == WORK
    assert replica.checker.matches(text, 30, set(), [(0, len(text))]) == []
    assert replica.encoder.sentences == before + 1


def test_rounds_with_nothing_new_do_no_work(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the vectors follow the lexical index, a round reads nothing until the lexical
    index is written again (an idle replica does not list every document each poll)."""
    catalog.register(WORK, _body(WORK_SENTENCE))
    replica = Replica(database, catalog, model)
    replica.catch_up()
    listed: list[int] = []
    index = replica.lexical.index
    real = index.live_documents

    def counting() -> object:
        listed.append(1)
        return real()

    monkeypatch.setattr(index, "live_documents", counting)
    assert [replica.semantic.run_once() for _ in range(3)] == [0, 0, 0]
    assert listed == []
    catalog.delete(WORK)
    replica.lexical.catch_up()
    assert replica.semantic.run_once() == 1  # the lexical index moved: the round runs
    assert listed == [1] and replica.semantic.progress.documents == 0


def test_a_compressed_index_finds_works_with_exact_similarities_and_follows_the_feed(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
) -> None:
    """Past `compress_at` sentences the index holds product-quantised codes; what the
    checker reports is still the exact cosine of the stored vectors, with spans from the
    stored record, and deletions and revisions still leave it."""
    vectors = SentenceVectors(model.dimensions, compress_at=MIN_COMPRESS_AT)
    # Sentences of works the lexical index does not hold: enough to compress the index
    # before the catalog's works arrive (the first round removes them: not live).
    vectors.add(_clustered_records(1_000_000, MIN_COMPRESS_AT // 20 + 1, 20, seed=4))
    assert vectors.compressed
    catalog.register(WORK, _body(WORK_SENTENCE))
    catalog.register("publishers/p/works/other", _body(UNRELATED))
    replica = Replica(database, catalog, model, vectors)
    replica.catch_up()
    assert replica.semantic.progress.documents == 2 and vectors.compressed
    assert vectors.stats().sentences == 6
    (match,) = replica.checker.matches(PARAPHRASE, 20, set())
    assert match.document.work == WORK
    (span,) = match.spans
    body = catalog.current[WORK].body
    assert body[span.work_start : span.work_end] == WORK_SENTENCE
    work_vector, text_vector = model.encode([WORK_SENTENCE, PARAPHRASE])
    a, b = (np.clip(np.rint(v * 127), -127, 127) for v in (work_vector, text_vector))
    exact = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert span.similarity == pytest.approx(exact, abs=1e-4)

    catalog.register(WORK, _body(UNRELATED.replace("mining", "shipping")))
    replica.catch_up()
    assert replica.works_found(PARAPHRASE) == []
    catalog.delete("publishers/p/works/other")
    replica.catch_up()
    assert replica.works_found(UNRELATED) == [(WORK, 2)]
    assert _stored_rows(database) == 1


def test_a_text_near_no_stored_sentence_reads_no_records(
    database: Database,
    catalog: FakeCatalog,
    model: SentenceEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the index is a graph its cosines are exact: candidates below the threshold
    are dropped before any stored record is read."""
    catalog.register(WORK, _body(WORK_SENTENCE))
    replica = Replica(database, catalog, model)
    replica.catch_up()
    asked: list[set[int]] = []
    real = replica.records.get

    def counting(doc_ids: set[int]) -> object:
        asked.append(set(doc_ids))
        return real(doc_ids)

    monkeypatch.setattr(replica.records, "get", counting)
    weather = "Snow fell across the northern hills all week and the roads stayed closed."
    assert replica.checker.matches(weather, 13, set()) == []
    assert asked == []
    assert replica.works_found(PARAPHRASE) == [(WORK, 1)]
    assert len(asked) == 1
