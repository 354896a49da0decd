"""Fingerprints, the in-memory index and match verification, without servers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.provenance.domain import fingerprint_index
from services.provenance.domain import fingerprints as fp
from services.provenance.domain.documents import (
    Fingerprints,
    WordRecord,
    analyse,
    fingerprints_of,
)
from services.provenance.domain.fingerprint_index import FingerprintIndex, Hits
from services.provenance.domain.matching import (
    IndexedDocument,
    Match,
    MatchRules,
    MatchType,
    candidates,
    verify,
)
from services.samples.articles import ArticleGenerator

GENERATOR = ArticleGenerator(seed=5)
RULES = MatchRules()


class Library:
    """Works indexed in memory, checked the way the service checks them."""

    def __init__(self, max_postings: int = 64) -> None:
        self.index = FingerprintIndex(max_postings)
        self.documents: dict[int, IndexedDocument] = {}

    def add(self, doc_id: int, body: str, work: str | None = None) -> None:
        text = analyse(body)
        self.documents[doc_id] = IndexedDocument(
            doc_id, work or f"publishers/p/works/w{doc_id}", 1, text.word_record()
        )
        self.index.apply([(doc_id, text.fingerprints())])

    def check(self, text: str) -> list[Match]:
        analysed = analyse(text)
        hits = self.index.lookup(analysed.grams)
        wanted = candidates(hits, RULES)
        return verify(analysed, hits, {d: self.documents[d] for d in wanted}, RULES)


def words(n: int) -> list[str]:
    return GENERATOR.words(n)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(fp.GUARANTEE_WORDS, 120),
    st.integers(0, 200),
    st.integers(0, 2**32 - 1),
)
def test_any_shared_run_at_the_guarantee_length_is_found(length: int, at: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    work_words = list(ArticleGenerator(seed).words(400))
    at = min(at, 400 - length)
    excerpt = work_words[at : at + length]
    noise = ArticleGenerator(seed + 1).words(int(rng.integers(0, 200)))
    library = Library()
    library.add(1, " ".join(work_words))
    (match,) = library.check(" ".join([*noise, *excerpt, *ArticleGenerator(seed + 2).words(50)]))
    # The span covers the excerpt, and more only where the texts really agree.
    assert match.longest_run >= length


def test_a_single_rare_hit_makes_a_candidate_but_a_single_common_one_does_not() -> None:
    hits = Hits(
        query_positions=np.array([0, 5, 9, 12, 20], dtype=np.int64),
        docs=np.array([9, 3, 7, 3, 8], dtype=np.uint32),
        frequencies=np.array([30, 2, 1, 5, 4], dtype=np.int64),
        rarity=np.zeros(25, dtype=np.int8),
    )
    assert candidates(hits, MatchRules(single_hit_max_postings=4)) == [3, 7, 8]


def test_winnowing_keeps_one_in_every_window() -> None:
    grams = fp.gram_hashes(fp.word_hashes(words(500)))
    chosen = fp.winnow(grams)
    assert np.all(np.diff(chosen) <= fp.WINDOW)
    assert chosen[0] < fp.WINDOW and chosen[-1] >= len(grams) - fp.WINDOW
    assert 1.5 / (fp.WINDOW + 1) < len(chosen) / len(grams) < 2.5 / (fp.WINDOW + 1)


def test_spans_are_exact_at_the_word_boundaries() -> None:
    body = GENERATOR.text(300)
    library = Library()
    library.add(1, body)
    tokens = body.split()
    excerpt = " ".join(tokens[50:90])
    before, after = "Completely different opening words here.", "And an unrelated ending."
    text = f"{before} {excerpt} {after}"
    (match,) = library.check(text)
    (span,) = match.spans
    assert text[span.query_start : span.query_end] == excerpt
    assert body[span.work_start : span.work_end].split() == excerpt.split()
    assert match.match_type is MatchType.EXACT and match.score == 1.0


def test_edited_passages_join_into_one_span_with_the_edits_counted() -> None:
    body = GENERATOR.text(400)
    library = Library()
    library.add(1, body)
    original = body.split()[100:200]
    tokens = list(original)
    for i in range(12, 100, 25):  # one word changed every 25
        tokens[i] = "replacedword"
    (match,) = library.check(" ".join(tokens))
    assert match.match_type is MatchType.NEAR_EXACT
    assert len(match.spans) == 1 and match.spans[0].edits == 4
    tokens = list(original)
    for i in range(7, 100, 15):  # one every 15: more edits than near-exact allows
        tokens[i] = "otherword"
    (match,) = library.check(" ".join(tokens))
    assert match.match_type is MatchType.EDITED


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["change", "drop", "add"]),
    st.integers(0, 2**32 - 1),
)
def test_a_passage_reworded_every_fifth_word_aligns_to_its_source(op: str, seed: int) -> None:
    """One word in five changed, dropped or added leaves runs of four: the seeds are four
    words, and the alignment reports one span over the passage with the edits counted.
    The property holds for every text whose aligned runs hold a fingerprint, which a
    100-word passage does unless the work's winnowing chose only edited 4-grams."""
    work_words = list(ArticleGenerator(seed).words(400))
    original = work_words[150:250]
    # A word three times in a row ("the the the", about one passage in a thousand here)
    # with one copy edited leaves no single alignment: the run overshoots by two words.
    assume(not any(original[i] == original[i + 1] == original[i + 2] for i in range(98)))
    edited: list[str] = []
    for i, word in enumerate(original, 1):
        if i % 5:
            edited.append(word)
        elif op == "change":
            edited.append(f"other{i}")
        elif op == "add":
            edited.extend([word, f"extra{i}"])
    library = Library()
    library.add(1, " ".join(work_words))
    text = " ".join([*ArticleGenerator(seed + 1).words(60), *edited])
    prints = analyse(" ".join(work_words)).fingerprints()
    seeds = set(prints.hashes.tolist()) & set(analyse(text).grams.tolist())
    assume(seeds)  # (rare: about one passage in twenty-five)
    (match,) = library.check(text)
    (span,) = match.spans
    # The passage's kept words (a word or two more where the random words before it
    # happen to agree too), and the 19 edits between them: the 20th ends the passage.
    kept = 100 if op == "add" else 80
    assert kept <= span.matched_words <= kept + 2 and span.edits == 19
    assert match.match_type is MatchType.EDITED and match.longest_run <= 6
    assert match.similarity == pytest.approx(span.similarity, abs=1e-4)
    assert 0.75 <= span.similarity <= 0.85
    # The span's two sides end on the passage's last untouched word, in the text and in
    # the work.
    last = original[-1] if op == "add" else original[-2]
    in_text = text[span.query_start : span.query_end].split()
    in_work = " ".join(work_words)[span.work_start : span.work_end].split()
    assert in_text[-4:] == in_work[-4:] and in_text[-1] == last


def test_shared_four_word_phrases_out_of_order_are_not_attributed() -> None:
    """Seeds are short, so a same-topic text shares many of them with a work; scattered
    or reordered, they never add up to an aligned span."""
    work = GENERATOR.words(300)
    library = Library()
    library.add(1, " ".join(work))
    phrases = [work[i : i + 4] for i in range(0, 300, 12)]
    np.random.default_rng(3).shuffle(phrases)
    mixed: list[str] = []
    for phrase, filler in zip(
        phrases, np.array_split(GENERATOR.words(400), len(phrases)), strict=False
    ):
        mixed.extend([*phrase, *filler.tolist()[:4]])
    assert library.check(" ".join(mixed)) == []


def test_short_common_phrases_are_not_attributed() -> None:
    library = Library()
    shared = "according to the latest figures released by the national statistics office"
    library.add(1, f"{GENERATOR.text(200)} {shared} {GENERATOR.text(200)}")
    assert library.check(f"{GENERATOR.text(100)} {shared} {GENERATOR.text(100)}") == []


def test_boilerplate_shared_by_many_works_is_ignored() -> None:
    library = Library(max_postings=8)
    boilerplate = " ".join(words(40))
    for doc in range(1, 21):
        library.add(doc, f"{GENERATOR.text(150)} {boilerplate}")
    assert library.check(boilerplate) == []
    unique = GENERATOR.text(150)
    library.add(99, f"{unique} {boilerplate}")
    assert [m.document.doc_id for m in library.check(unique)] == [99]


def test_removed_documents_are_never_returned() -> None:
    library = Library()
    body = GENERATOR.text(200)
    library.add(1, body)
    library.add(2, GENERATOR.text(200))
    library.index.apply([], removed=[1])
    assert library.check(body) == []
    assert library.index.stats().documents == 1
    # A new version is a new document.
    library.add(3, body)
    assert [m.document.doc_id for m in library.check(body)] == [3]


def same_hits(one: FingerprintIndex, other: FingerprintIndex, grams: np.ndarray) -> Hits:
    """Both indexes find the same (query position, document) postings for `grams`."""
    a, b = one.lookup(grams), other.lookup(grams)
    order_a = np.lexsort((a.docs, a.query_positions))
    order_b = np.lexsort((b.docs, b.query_positions))
    assert np.array_equal(a.docs[order_a], b.docs[order_b])
    assert np.array_equal(a.query_positions[order_a], b.query_positions[order_b])
    return a


def test_incremental_batches_and_merges_equal_one_bulk_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fingerprint_index, "MIN_DELTA_MERGE", 500)  # merge often
    documents = [(doc, analyse(GENERATOR.text(200)).fingerprints()) for doc in range(1, 121)]
    removed = {5, 17, 60}
    incremental = FingerprintIndex()
    for i in range(0, len(documents), 7):
        incremental.apply(documents[i : i + 7], removed=[d for d in removed if d < i])
    incremental.apply([], removed=removed)
    bulk = FingerprintIndex()
    bulk.load((d, f.to_bytes()) for d, f in documents if d not in removed)

    assert incremental.stats().documents == bulk.stats().documents == 117
    hits = same_hits(incremental, bulk, np.concatenate([f.hashes for _, f in documents]))
    assert not set(hits.docs.tolist()) & removed


POOL = [(doc, analyse(GENERATOR.text(60)).fingerprints()) for doc in range(1, 81)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=25),
    st.sets(st.integers(1, 80), max_size=10),
    st.sampled_from([50, 300, 2_000, 10**9]),
    st.sampled_from([(16, 16_384), (0, 1), (1, 40)]),
)
def test_any_batches_and_merges_equal_one_bulk_load(
    sizes: list[int], removed: set[int], merge_at: int, pace: tuple[int, int]
) -> None:
    """Batches of any sizes (runs merged as they come, into main at any threshold, a fold
    into main done at once or spread a step per batch over the batches that follow) hold
    exactly what one bulk load of the surviving documents holds, after every batch."""
    pool = POOL
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fingerprint_index, "MIN_DELTA_MERGE", merge_at)
        patch.setattr(fingerprint_index, "FOLD_PACE", pace[0])
        patch.setattr(fingerprint_index, "_MIN_STEP", pace[1])
        incremental, start = FingerprintIndex(), 0
        for size in sizes:
            batch, start = pool[start : start + size], start + size
            gone = {d for d in removed if d <= start}
            incremental.apply(batch, removed=gone)
            bulk = FingerprintIndex()
            bulk.load((d, f.to_bytes()) for d, f in pool[:start] if d not in gone)
            same_hits(incremental, bulk, np.concatenate([f.hashes for _, f in pool]))
        added = pool[:start]
        incremental.apply([], removed=removed)
    assert len(incremental._state.runs) <= 1 + len(sizes).bit_length()
    bulk = FingerprintIndex()
    bulk.load((d, f.to_bytes()) for d, f in added if d not in removed)
    same_hits(incremental, bulk, np.concatenate([f.hashes for _, f in pool]))
    assert incremental.stats().documents == bulk.stats().documents


def synthetic(first: int, count: int, seed: int) -> list[tuple[int, Fingerprints]]:
    rng = np.random.default_rng(seed)
    return [
        (
            d,
            Fingerprints(
                np.sort(rng.integers(0, 2**63, 60, dtype=np.uint64)), np.zeros(60, np.uint16)
            ),
        )
        for d in range(first, first + count)
    ]


def start_a_slow_fold(
    patch: pytest.MonkeyPatch,
) -> tuple[FingerprintIndex, list[tuple[int, Fingerprints]]]:
    """An index whose main (360,000 postings, in its own mappings) is being folded a
    small step per batch."""
    patch.setattr(fingerprint_index, "MIN_DELTA_MERGE", 20_000)
    patch.setattr(fingerprint_index, "FOLD_PACE", 0)  # one step per batch
    patch.setattr(fingerprint_index, "_MIN_STEP", 1)
    patch.setattr(fingerprint_index, "_FOLD_STEPS", 64)
    old = synthetic(1, 6_000, seed=1)
    index = FingerprintIndex()
    index.load((d, f.to_bytes()) for d, f in old)
    index.apply(synthetic(6_001, 800, seed=2))  # 48,000 postings: past an eighth of main
    assert index._state.folding is not None
    return index, old


def test_a_fold_gives_back_the_old_main_only_once_no_reader_can_read_it() -> None:
    with pytest.MonkeyPatch.context() as patch:
        index, old = start_a_slow_fold(patch)
        held = index._state  # a lookup still running on this state
        assert held.folding is not None
        main = held.main
        before = main.low.copy()
        readable = int(main.starts[held.folding.boundary >> (48 - main.bits)])
        for first in range(10_000, 10_400, 20):
            index.apply(synthetic(first, 20, seed=first))
        previous = index._state.folding
        assert previous is not None and previous.boundary > held.folding.boundary
        assert np.array_equal(main.low[readable:], before[readable:])  # kept for `held`
        assert not main.low[: readable - 1024].any()  # what no one reads is given back
        del held
        index.apply(synthetic(20_000, 20, seed=3))
        assert index._state.folding is not None
        # Now the states that remain read from the previous boundary on: the rest is gone.
        cut = int(main.starts[previous.boundary >> (48 - main.bits)])
        assert cut > readable + 50_000
        assert before[readable:cut].any() and not main.low[readable : cut - 1024].any()
        assert np.array_equal(main.low[cut:], before[cut:])
        bulk = FingerprintIndex()
        bulk.load((d, f.to_bytes()) for d, f in old)
        same_hits(index, bulk, np.concatenate([f.hashes for _, f in old[::20]]))


def test_settling_finishes_a_fold_and_gives_the_old_main_back() -> None:
    with pytest.MonkeyPatch.context() as patch:
        index, old = start_a_slow_fold(patch)
        main = index._state.main
        before = main.low.copy()
        index.settle()
        assert index._state.folding is None and index._fold is None
        assert len(index._state.main) == len(main) + 800 * 60
        assert before.any() and not main.low[: len(main) - 1024].any()
        bulk = FingerprintIndex()
        bulk.load((d, f.to_bytes()) for d, f in [*old, *synthetic(6_001, 800, seed=2)])
        same_hits(index, bulk, np.concatenate([f.hashes for _, f in old[::20]]))
        index.settle()  # nothing under way: nothing to do
        assert index._state.folding is None


def postings(hits: Hits) -> list[tuple[int, int]]:
    return sorted(zip(hits.query_positions.tolist(), hits.docs.tolist(), strict=True))


def test_lookups_find_everything_while_folds_go_on_beside_them() -> None:
    """Readers on other threads, never locked, see every posting of a main being folded
    and given back under them, in folds spread over batches and folds finished at once."""
    with pytest.MonkeyPatch.context() as patch:
        index, old = start_a_slow_fold(patch)
        grams = np.concatenate([f.hashes for _, f in old[::40]])
        bulk = FingerprintIndex()
        bulk.load((d, f.to_bytes()) for d, f in old)
        expected_pairs = postings(bulk.lookup(grams))
        wrong, during_folds, stop = [], [0], threading.Event()

        def read() -> None:
            while not stop.is_set():
                folding = index._state.folding is not None
                hits = index.lookup(grams)
                if postings(hits) != expected_pairs:
                    wrong.append(len(hits))
                during_folds[0] += folding

        readers = [threading.Thread(target=read) for _ in range(2)]
        for reader in readers:
            reader.start()
        folds = 0
        for first in range(10_000, 50_000, 200):
            index.apply(synthetic(first, 200, seed=first))
            folds += index._state.folding is None
        stop.set()
        for reader in readers:
            reader.join()
        assert not wrong
        assert during_folds[0] > 20 and folds > 3


def test_keys_spread_evenly_over_the_directory() -> None:
    """Winnowing keeps the smallest hash of each window, so stored hashes crowd the low
    end; the index's keys must not, or lookups there bisect instead of scanning."""
    generator = ArticleGenerator(seed=8)
    hashes = np.concatenate(
        [analyse(generator.text(400)).fingerprints().hashes for _ in range(200)]
    )
    per_bucket = np.bincount((fingerprint_index.keys_of(hashes) >> np.uint64(42)).astype(np.int64))
    assert len(per_bucket) <= 64 and per_bucket.max() < 1.5 * len(hashes) / 64


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_distinct_hashes_keep_distinct_keys(one: int, other: int) -> None:
    keys = fingerprint_index.keys_of(np.array([one, other], dtype=np.uint64))
    assert int(keys.max()) < 2**48
    assert (keys[0] == keys[1]) == (one >> 16 == other >> 16)


@given(st.lists(st.integers(0, 40), max_size=200))
def test_runs_of_a_sorted_array_are_its_unique_values_and_counts(values: list[int]) -> None:
    ordered = np.array(sorted(values), dtype=np.uint64)
    ids, sizes = fingerprint_index._runs_of_sorted(ordered)
    expected_ids, expected_sizes = np.unique(ordered, return_counts=True)
    assert ids.tolist() == expected_ids.tolist() and sizes.tolist() == expected_sizes.tolist()


def test_fingerprints_round_trip_through_bytes() -> None:
    prints = analyse(GENERATOR.text(300)).fingerprints()
    again = Fingerprints.from_bytes(prints.to_bytes())
    assert np.array_equal(prints.hashes, again.hashes)
    assert np.array_equal(prints.positions, again.positions)


def test_hashes_are_stable_across_processes_and_versions() -> None:
    # Stored fingerprints must keep meaning the same thing: a changed hash function
    # would silently empty every index loaded from the database.
    # (Changing the scheme takes a migration that rebuilds them: 0002 did, from the stored
    # words, when 5-grams became 4-grams.)
    grams = fp.gram_hashes(fp.word_hashes(["the", "minister", "said", "on", "friday"]))
    assert grams.tolist() == [2826814367222600142, 16039022859804007954]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_stored_words_rebuild_the_same_fingerprints(seed: int) -> None:
    text = analyse(ArticleGenerator(seed=seed).text(200))
    rebuilt = fingerprints_of(WordRecord.from_bytes(text.word_record().to_bytes()))
    assert rebuilt.to_bytes() == text.fingerprints().to_bytes()


@pytest.mark.parametrize("size", [0, 1_000, 300_000, 2_500_000])
def test_the_compact_main_layer_finds_what_a_binary_search_finds(size: int) -> None:
    """Keys stored as their low 32 bits under a directory of their top bits: every lookup
    equals a binary search over the full keys, crowded buckets included, and a merge
    bucket range by bucket range equals sorting everything again."""
    rng = np.random.default_rng(4)
    keys = np.sort(rng.integers(0, 2**48, size=size, dtype=np.uint64))
    if size:
        keys[size // 3 : size // 3 + 200] = keys[size // 3]  # a crowded bucket (boilerplate)
        keys = np.sort(keys)
    docs = rng.integers(1, 500, size=size, dtype=np.uint32)
    main = fingerprint_index._Main.of_sorted(keys, docs)
    probes = np.concatenate(
        [rng.choice(keys, 500) if size else keys, rng.integers(0, 2**48, 500, dtype=np.uint64)]
    )
    left, counts = main.find(probes)
    assert np.array_equal(left, np.searchsorted(keys, probes, side="left"))
    assert np.array_equal(counts, np.searchsorted(keys, probes, side="right") - left)
    assert np.array_equal(main.keys(0, 1 << main.bits), keys)

    extra = np.sort(rng.integers(0, 2**48, size=size // 2 + 10, dtype=np.uint64))
    extra_docs = rng.integers(1, 500, size=len(extra), dtype=np.uint32)
    live = np.ones(500, dtype=np.uint16)
    live[7] = 0  # removed: its postings go in the merge
    fold = fingerprint_index._Fold(main, fingerprint_index._Delta(extra, extra_docs), live)
    while not fold.done:
        fold.step()
    merged = fold.result()
    every = np.concatenate([keys, extra])
    every_docs = np.concatenate([docs, extra_docs])
    kept = every_docs != 7
    order = np.argsort(every[kept], kind="stable")
    assert np.array_equal(merged.keys(0, 1 << merged.bits), every[kept][order])
    pairs = zip(merged.keys(0, 1 << merged.bits).tolist(), merged.docs.tolist(), strict=True)
    expected = zip(every[kept].tolist(), every_docs[kept].tolist(), strict=True)
    assert sorted(pairs) == sorted(expected)
    assert merged.bits == fingerprint_index._bits_for(len(every))


def test_the_query_index_costs_about_eight_bytes_per_fingerprint() -> None:
    index = FingerprintIndex()
    rng = np.random.default_rng(9)
    documents = [
        (d, Fingerprints(rng.integers(0, 2**63, 60, dtype=np.uint64), np.zeros(60, np.uint16)))
        for d in range(1, 20_001)
    ]
    index.load((d, f.to_bytes()) for d, f in documents)
    stats = index.stats()
    assert stats.fingerprints == 1_200_000
    assert 8.0 <= (stats.memory_bytes - 20_001 * 2) / stats.fingerprints <= 8.6
