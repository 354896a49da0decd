"""From index hits to verified matches: candidates, seed-and-extend, aligned spans.

1. Candidates: documents with two or more hits, or one hit on a phrase no other work
   holds (a short excerpt may hold a single fingerprint). Ranked by hits, at most
   `max_candidates`.
2. Verification: each hit (a 4-word seed) is checked against the document's words and
   extended left and right while the words agree, giving exact runs; from each run's
   ends the alignment carries on through changed, dropped or added words (at most
   `max_gap` on either side) wherever four words agree again. Hits inside a run already
   found are skipped.
3. Spans: runs that follow each other in order in both texts, at most `max_gap` words
   apart, join into one aligned span. A span is reported when it holds an unbroken run
   of `min_run_words` (a quote), or when it holds `min_edited_words` matching words with
   an edit similarity of at least `min_similarity` (a lightly reworded passage): both
   mean real shared text, which is what decides precision, not the number of hits.
   A span most of whose indexed phrases are boilerplate (bylines, legal notices shared
   by many works) is not reported.

Edit similarity: matched words / (matched words + edits), where edits are the words
changed, dropped or added inside the span. Match types: EXACT when every span is one
unbroken run of (normalised) words; NEAR_EXACT when edits amount to at most one word in
25; EDITED otherwise. Formatting, case and punctuation never count as edits.
Score (0..1): the edit similarity, scaled down for short evidence (fewer than 25
matched words).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property

import numpy as np
import numpy.typing as npt

from services.provenance.domain import fingerprints as fp
from services.provenance.domain.documents import (
    AnalysedText,
    WordRecord,
    short_hashes,
)
from services.provenance.domain.fingerprint_index import Hits


class MatchType(Enum):
    EXACT = "exact"
    NEAR_EXACT = "near-exact"
    EDITED = "edited"
    # The same statements in other words (the semantic stage; see domain.paraphrase).
    PARAPHRASE = "paraphrase"


@dataclass(frozen=True)
class MatchRules:
    max_candidates: int = 32
    # A single hit makes a candidate only when its phrase is this rare in the index. Four
    # words is a short phrase: at 4 postings a same-topic text made eight candidates,
    # at 1 it makes half as many, and the excerpts found with one seed hold a phrase
    # only their work has.
    single_hit_max_postings: int = 1
    max_gap: int = 3
    # A quote: an unbroken run this long.
    min_run_words: int = 12
    # A reworded passage: this many matching words at this edit similarity or better.
    min_edited_words: int = 20
    min_similarity: float = 0.7


FULL_EVIDENCE_WORDS = 25


@dataclass(frozen=True)
class IndexedDocument:
    """A work version in the index, as verification needs it."""

    doc_id: int
    work: str
    version: int
    words: WordRecord

    @cached_property
    def gram_keys(self) -> npt.NDArray[np.uint32]:
        """The top half of its 4-gram hashes: where verification finds the index's hits
        in it (words are compared after, so a collision in 32 bits costs nothing)."""
        return _gram_keys(fp.stored_gram_hashes(self.words.words))

    @property
    def publisher(self) -> str:
        return self.work.split("/works/")[0]


@dataclass(frozen=True)
class Span:
    query_start: int  # characters, [start, end) in the checked text
    query_end: int
    work_start: int  # characters, [start, end) in the work's body
    work_end: int
    matched_words: int
    edits: int
    longest_run: int
    # A paraphrase's similarity of meaning (cosine of the two sentences' embeddings), and
    # the Jaccard overlap of the two sentences' content words.
    meaning: float | None = None
    overlap: float | None = None

    @property
    def similarity(self) -> float:
        """Matched words over matched words plus edits (1.0: unchanged); for a
        paraphrase, the similarity of meaning."""
        if self.meaning is not None:
            return self.meaning
        return self.matched_words / (self.matched_words + self.edits)


@dataclass(frozen=True)
class Match:
    document: IndexedDocument
    spans: list[Span]
    matched_words: int
    query_coverage: float
    work_coverage: float
    longest_run: int
    match_type: MatchType
    score: float
    similarity: float


@dataclass
class _Run:
    q_start: int
    q_end: int
    d_start: int
    d_end: int


def candidates(hits: Hits, rules: MatchRules) -> list[int]:
    """Document ids worth verifying, most hits first."""
    if len(hits) == 0:
        return []
    order = np.argsort(hits.docs, kind="stable")
    docs, first, counts = np.unique(hits.docs[order], return_index=True, return_counts=True)
    rarest = np.minimum.reduceat(hits.frequencies[order], first)
    worth = (counts >= 2) | (rarest <= rules.single_hit_max_postings)
    ranked = np.argsort(-counts[worth], kind="stable")[: rules.max_candidates]
    return [int(d) for d in docs[worth][ranked]]


def verify(
    text: AnalysedText,
    hits: Hits,
    documents: Mapping[int, IndexedDocument],
    rules: MatchRules,
) -> list[Match]:
    query_words = short_hashes(text.word_hashes).tolist()
    matches = []
    for doc_id, document in documents.items():
        seeds = _seeds(text.grams, hits.query_positions[hits.docs == doc_id], document)
        runs = _runs(query_words, document.words.words.tolist(), seeds, rules.max_gap)
        match = _match(text, document, runs, hits.rarity, rules)
        if match is not None:
            matches.append(match)
    matches.sort(key=lambda m: (-m.score, -m.matched_words, m.document.work))
    return matches


def _seeds(
    query_grams: fp.Hashes, query_positions: npt.NDArray[np.int64], document: IndexedDocument
) -> list[tuple[int, int]]:
    """(query position, document position) of each shared 4-gram the index hit on."""
    grams = document.gram_keys
    positions = np.unique(query_positions)
    return [
        (q, d)
        for q, g in zip(positions.tolist(), _gram_keys(query_grams[positions]), strict=True)
        for d in np.flatnonzero(grams == g).tolist()
    ]


def _gram_keys(grams: fp.Hashes) -> npt.NDArray[np.uint32]:
    return (grams >> np.uint64(32)).astype(np.uint32)


def _runs(
    query: list[int], work: list[int], seeds: list[tuple[int, int]], max_gap: int
) -> list[_Run]:
    """Exact runs around each seed, then onwards through small edits."""
    runs: list[_Run] = []
    for q, d in sorted(seeds):
        if query[q : q + fp.GRAM] != work[d : d + fp.GRAM]:
            continue  # a hash collision: the words do not agree
        if any(r.q_start <= q < r.q_end and r.d_start - r.q_start == d - q for r in runs):
            continue  # inside a run already found
        left = _common_length(query, work, q - 1, d - 1, -1)
        right = _common_length(query, work, q, d, 1)
        run = _Run(q - left, q + right, d - left, d + right)
        runs.append(run)
        runs.extend(_through_edits(query, work, run, max_gap, 1))
        runs.extend(_through_edits(query, work, run, max_gap, -1))
    # Extensions from different seeds can find the same run twice.
    return list({(r.q_start, r.d_start): r for r in runs}.values())


def _boilerplate(group: list[_Run], rarity: npt.NDArray[np.int8]) -> bool:
    """Of the span's 4-grams the index holds, most are shared by too many works
    (bylines, legal notices): winnowing may still have kept a few of them as rare."""
    return (
        sum(int(rarity[r.q_start : max(r.q_start, r.q_end - fp.GRAM + 1)].sum()) for r in group) > 0
    )


def _common_length(query: list[int], work: list[int], q: int, d: int, step: int) -> int:
    """How many words agree from (q, d) onwards in direction `step` (+1 or -1)."""
    count = 0
    while 0 <= q < len(query) and 0 <= d < len(work) and query[q] == work[d]:
        count += 1
        q += step
        d += step
    return count


_RESUME_WORDS = 4  # words that must agree again after an edit to carry a span on


def _through_edits(
    query: list[int], work: list[int], run: _Run, max_gap: int, step: int
) -> list[_Run]:
    """Runs that continue `run` after changed, dropped or added words (at most
    `max_gap` on either side), found by trying each small skip, smallest first."""
    found: list[_Run] = []
    q, d = (run.q_end, run.d_end) if step > 0 else (run.q_start - 1, run.d_start - 1)
    skips = _skips(max_gap)
    while True:
        for skip_q, skip_d in skips:
            qs, ds = q + step * skip_q, d + step * skip_d
            if step > 0:
                agree = qs + _RESUME_WORDS <= len(query) and (
                    query[qs : qs + _RESUME_WORDS] == work[ds : ds + _RESUME_WORDS]
                )
            else:
                agree = (
                    qs >= _RESUME_WORDS - 1
                    and ds >= _RESUME_WORDS - 1
                    and (
                        query[qs - _RESUME_WORDS + 1 : qs + 1]
                        == work[ds - _RESUME_WORDS + 1 : ds + 1]
                    )
                )
            if agree:
                length = _common_length(query, work, qs, ds, step)
                if step > 0:
                    found.append(_Run(qs, qs + length, ds, ds + length))
                else:
                    found.append(_Run(qs - length + 1, qs + 1, ds - length + 1, ds + 1))
                q, d = qs + step * length, ds + step * length
                break
        else:
            return found


@cache
def _skips(max_gap: int) -> list[tuple[int, int]]:
    """Words to skip in the query and in the work after an edit, smallest first. A skip
    of -1 steps back into the run: a run can overshoot an edit by a word when the word
    beside the edit happens to equal the edited one ("had had", an added "the"), and
    the passage then resumes one word earlier on one side."""
    return sorted(
        (
            (a, b)
            for a in range(-1, max_gap + 1)
            for b in range(-1, max_gap + 1)
            if (a, b) not in ((0, 0), (-1, -1))
        ),
        key=lambda skip: (abs(skip[0]) + abs(skip[1]), skip),
    )


def _match(
    text: AnalysedText,
    document: IndexedDocument,
    runs: list[_Run],
    rarity: npt.NDArray[np.int8],
    rules: MatchRules,
) -> Match | None:
    spans = [
        span
        for group in _join(runs, rules.max_gap)
        if _shares_text(span := _span(text, document.words, group), rules)
        and not _boilerplate(group, rarity)
    ]
    if not spans:
        return None
    matched = sum(s.matched_words for s in spans)
    edits = sum(s.edits for s in spans)
    longest = max(s.longest_run for s in spans)
    if edits == 0:
        kind = MatchType.EXACT
    elif edits * 25 <= matched + edits:  # at most one word in 25 of the passage
        kind = MatchType.NEAR_EXACT
    else:
        kind = MatchType.EDITED
    similarity = matched / (matched + edits)
    evidence = min(1.0, matched / FULL_EVIDENCE_WORDS)
    return Match(
        document=document,
        spans=spans,
        matched_words=matched,
        query_coverage=min(1.0, matched / max(1, text.word_count)),
        work_coverage=min(1.0, matched / max(1, len(document.words))),
        longest_run=longest,
        match_type=kind,
        score=round(evidence * similarity, 4),
        similarity=round(similarity, 4),
    )


def _shares_text(span: Span, rules: MatchRules) -> bool:
    """A quote, or a passage reworded lightly enough to still be the work's text."""
    if span.longest_run >= rules.min_run_words:
        return True
    return span.matched_words >= rules.min_edited_words and span.similarity >= rules.min_similarity


def _join(runs: list[_Run], max_gap: int) -> list[list[_Run]]:
    """Group runs that follow each other in both texts, a few words apart at most."""
    groups: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: (r.q_start, r.d_start)):
        if groups:
            last = groups[-1][-1]
            if run.q_end <= last.q_end and run.d_end <= last.d_end:
                continue  # inside the previous run
            q_gap = run.q_start - last.q_end
            d_gap = run.d_start - last.d_end
            if -fp.GRAM < q_gap <= max_gap and -fp.GRAM < d_gap <= max_gap:
                groups[-1].append(run)
                continue
        groups.append([run])
    return groups


def _span(text: AnalysedText, words: WordRecord, group: list[_Run]) -> Span:
    q_start, d_start = group[0].q_start, group[0].d_start
    q_end = max(r.q_end for r in group)
    d_end = max(r.d_end for r in group)
    matched = 0
    covered_until = q_start
    for run in group:  # runs may overlap by a word or two after an edit
        matched += max(0, run.q_end - max(run.q_start, covered_until))
        covered_until = max(covered_until, run.q_end)
    edits = max(q_end - q_start, d_end - d_start) - matched
    return Span(
        query_start=int(text.starts[q_start]),
        query_end=int(text.ends[q_end - 1]),
        work_start=int(words.starts[d_start]),
        work_end=int(words.ends[d_end - 1]),
        matched_words=matched,
        edits=max(0, edits),
        longest_run=max(r.q_end - r.q_start for r in group),
    )
