"""The semantic stage's parts: sentences and their offsets, stored vectors, verification
thresholds, and the real sentence model (its checksum refusal and its judgement)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.provenance.adapters.sentence_encoder import (
    ModelChecksumError,
    ModelFiles,
    SentenceEncoder,
    packaged_minilm,
)
from services.provenance.adapters.vector_index import MIN_COMPRESS_AT, SentenceVectors
from services.provenance.domain import paraphrase
from services.provenance.domain.documents import analyse
from services.provenance.domain.matching import IndexedDocument, MatchType
from services.provenance.domain.paraphrase import (
    Neighbour,
    ParaphraseRules,
    SentenceRecord,
    paraphrase_matches,
    quantise,
    sentences,
)

WORK_SENTENCE = (
    "The city council voted on Tuesday to spend 4.2 million dollars on new bicycle lanes "
    "along the river."
)
PARAPHRASE = (
    "On Tuesday the city council approved 4.2 million dollars for new bike lanes beside the river."
)
UNRELATED = "Shares in the mining company fell sharply after its chief executive resigned."

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9)
# Sentences whose last word is no abbreviation ("vs.", "Inc."): those do not end one.
SENTENCE = (
    st.lists(WORDS, min_size=6, max_size=20)
    .map(lambda w: " ".join(w).capitalize() + ".")
    .filter(lambda s: not paraphrase._ABBREVIATION.search(s))
)


@given(st.lists(SENTENCE, min_size=1, max_size=8), st.sampled_from(["p", "b", "li", None]))
def test_every_sentence_is_found_with_its_exact_offsets_through_markup(
    written: list[str], tag: str | None
) -> None:
    pieces = [f"<{tag}>{s}</{tag}>" if tag else s for s in written]
    text = " ".join(pieces)
    found = sentences(text)
    assert [s.text for s in found] == written
    for sentence, original in zip(found, written, strict=True):
        assert text[sentence.start : sentence.end] == original


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = (
        "Mr. Smith met U.S. officials in Washington on Monday morning. "
        "J. R. Brown said the plan would cost far more than expected."
    )
    found = sentences(text)
    assert [text[s.start : s.end] for s in found] == [
        "Mr. Smith met U.S. officials in Washington on Monday morning.",
        "J. R. Brown said the plan would cost far more than expected.",
    ]
    assert sentences("Too short. Also short.") == []


@given(
    st.integers(min_value=0, max_value=40).flatmap(
        lambda n: st.tuples(
            st.lists(
                st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), min_size=n, max_size=n
            ),
            st.lists(
                st.lists(st.integers(-127, 127), min_size=8, max_size=8), min_size=n, max_size=n
            ),
        )
    )
)
def test_stored_sentences_read_back_exactly(
    data: tuple[list[tuple[int, int]], list[list[int]]],
) -> None:
    spans, vectors = data
    record = SentenceRecord(
        np.array(spans, dtype=np.uint32).reshape(-1, 2),
        np.array(vectors, dtype=np.int8).reshape(len(spans), 8)
        if spans
        else np.zeros((0, 0), np.int8),
    )
    back = SentenceRecord.from_bytes(record.to_bytes())
    assert back.spans.tolist() == record.spans.tolist()
    assert back.vectors.tolist() == record.vectors.tolist()


def _document(text: str) -> IndexedDocument:
    return IndexedDocument(7, "publishers/p/works/w", 3, analyse(text).word_record())


@pytest.mark.parametrize("delta, kept", [(0.001, True), (0.0, True), (-0.001, False)])
def test_a_pair_is_kept_exactly_from_the_similarity_threshold(delta: float, kept: bool) -> None:
    work = f"Opening words of the article come first here. {WORK_SENTENCE} More follows."
    answer = f"Some answer text begins like this today. {PARAPHRASE}"
    found = sentences(answer)
    work_sentences = sentences(work)
    rules = ParaphraseRules(min_similarity=0.75, min_overlap=0.3)
    near = [[], [Neighbour(7, 1, 0.75 + delta)]]
    spans = {7: SentenceRecord.of(work_sentences, np.zeros((2, 4), np.float32)).spans}
    matches = paraphrase_matches(20, found, near, spans, {7: _document(work)}, rules)
    if not kept:
        assert matches == []
        return
    (match,) = matches
    assert match.match_type is MatchType.PARAPHRASE
    (span,) = match.spans
    assert answer[span.query_start : span.query_end] == PARAPHRASE
    assert work[span.work_start : span.work_end] == WORK_SENTENCE
    assert span.similarity == round(0.75 + delta, 4)
    # tuesday city council million dollars new lanes river, of 14 content words
    assert span.matched_words == 8 and span.overlap is not None and 0.5 < span.overlap < 0.6


def test_a_close_vector_without_shared_content_words_is_not_a_paraphrase() -> None:
    work = f"{UNRELATED} Nothing else is said in this piece of text."
    found = sentences(PARAPHRASE)
    spans = {7: SentenceRecord.of(sentences(work), np.zeros((2, 4), np.float32)).spans}
    near = [[Neighbour(7, 0, 0.99)]]
    rules = ParaphraseRules(min_similarity=0.7, min_overlap=0.2)
    assert paraphrase_matches(20, found, near, spans, {7: _document(work)}, rules) == []


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(packaged_minilm())


def test_the_packaged_model_judges_meaning(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode([WORK_SENTENCE, PARAPHRASE, UNRELATED])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.8
    assert similarity[0, 2] < 0.3
    # A sentence's vector does not depend on the sentences embedded with it.
    again = encoder.encode([UNRELATED, "Short.", WORK_SENTENCE])
    assert np.array_equal(again[2], vectors[0]) and np.array_equal(again[0], vectors[2])


def test_nearest_work_sentences_come_from_the_vector_index(encoder: SentenceEncoder) -> None:
    index = SentenceVectors(encoder.dimensions)
    work = sentences(f"{UNRELATED} {WORK_SENTENCE}")
    index.add([(5, SentenceRecord.of(work, encoder.encode([s.text for s in work])))])
    (near,) = index.search(quantise(encoder.encode([PARAPHRASE])), 2)
    assert (near[0].doc_id, near[0].sentence) == (5, 1) and near[0].similarity > 0.8
    index.remove([5])
    assert index.search(quantise(encoder.encode([PARAPHRASE])), 2) == [[]]
    assert index.stats().documents == 0


def _clustered_records(
    first_doc: int, works: int, per_work: int, seed: int
) -> list[tuple[int, SentenceRecord]]:
    """Synthetic sentence vectors around a few hundred topics (as news sentences are)."""
    rng = np.random.default_rng(seed)
    topics = np.random.default_rng(0).standard_normal((300, 384)).astype(np.float32)
    out = []
    for doc in range(first_doc, first_doc + works):
        x = topics[rng.integers(0, len(topics), per_work)]
        x = x + rng.standard_normal(x.shape).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out.append((doc, SentenceRecord(np.zeros((per_work, 2), np.uint32), quantise(x))))
    return out


def test_a_large_index_is_compressed_and_still_finds_removes_and_reranks(
    encoder: SentenceEncoder,
) -> None:
    index = SentenceVectors(encoder.dimensions, compress_at=MIN_COMPRESS_AT)
    work = sentences(f"{UNRELATED} {WORK_SENTENCE}")
    planted = SentenceRecord.of(work, encoder.encode([s.text for s in work]))
    index.add([(5, planted)])
    filler = (MIN_COMPRESS_AT - 2) // 20  # works of 20 sentences, short of compression
    index.add(_clustered_records(100, filler, 20, seed=1))
    assert not index.compressed
    graph_bytes = index.stats().memory_bytes
    index.add(_clustered_records(10_000, 1, 20, seed=2))
    stats = index.stats()
    assert index.compressed and stats.compressed and stats.documents == filler + 2
    assert stats.sentences == 2 + 20 * (filler + 1)
    # codes and ids (56 bytes a sentence) beside the coarse lists and code books
    assert stats.memory_bytes < graph_bytes / 5
    later = _clustered_records(20_000, 50, 20, seed=3)
    index.add(later)  # works arriving after compression are searchable too
    query = quantise(encoder.encode([PARAPHRASE]))
    (near,) = index.search(query, 16)
    assert (5, 1) in [(n.doc_id, n.sentence) for n in near]  # an estimate, a candidate
    (exact,) = paraphrase.rerank(query, [near], {5: planted}, keep=8)
    assert [(n.doc_id, n.sentence) for n in exact] == [(5, 1), (5, 0)][: len(exact)]
    assert exact[0].similarity == pytest.approx(
        float(
            planted.vectors[1].astype(float)
            @ query[0].astype(float)
            / np.linalg.norm(planted.vectors[1].astype(float))
            / np.linalg.norm(query[0].astype(float))
        )
    )
    doc, record = later[7]
    (own,) = index.search(record.vectors[3:4], 4)
    assert (doc, 3) in [(n.doc_id, n.sentence) for n in own]
    index.remove([5, doc])
    (near,) = index.search(query, 16)
    assert 5 not in {n.doc_id for n in near}
    (own,) = index.search(record.vectors[3:4], 4)
    assert doc not in {n.doc_id for n in own}
    assert index.stats().sentences == stats.sentences + 50 * 20 - 2 - 20


def test_an_index_too_small_to_train_code_books_is_refused() -> None:
    with pytest.raises(ValueError, match="compress_at must be at least"):
        SentenceVectors(384, compress_at=MIN_COMPRESS_AT - 1)


VECTOR = st.lists(st.integers(-127, 127), min_size=6, max_size=6).filter(any)


@given(
    st.lists(VECTOR, min_size=1, max_size=4),
    st.dictionaries(st.integers(1, 6), st.lists(VECTOR, min_size=1, max_size=4), max_size=5),
    st.lists(
        st.lists(st.tuples(st.integers(1, 8), st.integers(0, 4)), max_size=8),
        min_size=4,
        max_size=4,
    ),
    st.integers(1, 8),
)
def test_reranking_gives_exact_cosines_nearest_first(
    queries: list[list[int]],
    stored: dict[int, list[list[int]]],
    proposed: list[list[tuple[int, int]]],
    keep: int,
) -> None:
    q = np.array(queries, dtype=np.int8)
    records = {
        d: SentenceRecord(np.zeros((len(v), 2), np.uint32), np.array(v, dtype=np.int8))
        for d, v in stored.items()
    }
    candidates = [[Neighbour(d, i, -1.0) for d, i in p] for p in proposed[: len(q)]]
    out = paraphrase.rerank(q, candidates, records, keep)
    assert len(out) == len(q)
    for query, near, got in zip(q, candidates, out, strict=True):
        known = [n for n in near if n.doc_id in records and n.sentence < len(records[n.doc_id])]
        assert len(got) == min(keep, len(known))
        sims = [n.similarity for n in got]
        assert sims == sorted(sims, reverse=True)
        for n in got:
            v = records[n.doc_id].vectors[n.sentence].astype(float)
            expected = v @ query.astype(float) / np.linalg.norm(v) / np.linalg.norm(query)
            assert n.similarity == pytest.approx(expected, abs=1e-9)
        # nothing better was left out
        if len(got) < len(known) and got:
            others = [records[n.doc_id].vectors[n.sentence].astype(float) for n in known]
            best = sorted(
                (
                    o @ query.astype(float) / np.linalg.norm(o) / np.linalg.norm(query)
                    for o in others
                ),
                reverse=True,
            )[: len(got)]
            assert sims == pytest.approx(best, abs=1e-9)


def _copy_model(tmp_path: Path) -> ModelFiles:
    files = packaged_minilm()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        shutil.copy(files.directory / name, tmp_path / name)
    return ModelFiles(tmp_path, dict(files.digests))


def test_a_changed_or_missing_model_file_is_refused(tmp_path: Path) -> None:
    files = _copy_model(tmp_path)
    with (tmp_path / "tokenizer.json").open("a") as f:
        f.write(" ")
    with pytest.raises(ModelChecksumError, match=r"tokenizer\.json has SHA-256"):
        SentenceEncoder(files)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelChecksumError, match=r"model\.safetensors is missing"):
        SentenceEncoder(files)
