"""Paraphrase attribution: which works a text restates in its own words.

The lexical stage finds shared wording; this one compares meaning, sentence by
sentence. A text's sentences are embedded (by an adapter: plain vectors here), their
nearest work sentences are found in a vector index, and each pair is then verified:
the two sentences must be close in meaning (cosine of their embeddings at or above a
threshold calibrated on the MSRP paraphrase corpus's training pairs) and must share some
of their content words (names, numbers, rare terms survive a paraphrase; a sentence on
the same topic that says something else shares few). A match reports each sentence pair
with its character spans in both texts and its similarity, as kind PARAPHRASE.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.provenance.domain import fingerprints as fp
from services.provenance.domain.documents import WordRecord, short_hashes
from services.provenance.domain.matching import IndexedDocument, Match, MatchType, Span
from services.provenance.domain.normalize import tokenize, visible_text

MIN_SENTENCE_WORDS = 6  # shorter pieces (datelines, headings) say too little to attribute
MAX_SENTENCES = 4096  # per work: the rest of a longer work is not embedded

# Sentence ends: . ! ? (and closing quotes or brackets) before a space and a capital,
# digit or opening quote; or a blank line / a line break before a list item.
_BOUNDARY = re.compile(
    r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])|\n\s*\n|\n(?=\s*[-*\u2022])"
)
_ABBREVIATION = re.compile(
    r"\b(?:mr|mrs|ms|dr|prof|st|sr|jr|inc|corp|co|ltd|gen|gov|sen|rep|no|vs|jan|feb|"
    r"aug|sept|oct|nov|dec|u\.s|u\.k|e\.g|i\.e)\.$",
    re.IGNORECASE,
)
_INITIAL = re.compile(r"\b[A-Z]\.$")  # "J. R. Brown"
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers him his how i if in into
    is it its itself just me more most my no nor not now of off on once only or other
    our out over own said same says she should so some such than that the their them
    then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Sentence:
    start: int  # characters, [start, end) in the original text
    end: int
    text: str  # as a reader sees it (markup removed)


def sentences(text: str) -> list[Sentence]:
    """The text's sentences of at least MIN_SENTENCE_WORDS words, with exact offsets."""
    visible, starts, ends = visible_text(text)
    out: list[Sentence] = []
    begin = 0
    for boundary in (*_BOUNDARY.finditer(visible), None):
        cut = len(visible) if boundary is None else boundary.start()
        tail = visible[max(begin, cut - 6) : cut]
        if boundary is not None and (_ABBREVIATION.search(tail) or _INITIAL.search(tail)):
            continue  # "Mr. Smith", "U.S. officials", "J. Smith": not an end
        piece = visible[begin:cut]
        stripped = piece.strip()
        if len(stripped.split()) >= MIN_SENTENCE_WORDS:
            a = begin + (len(piece) - len(piece.lstrip()))
            b = a + len(stripped)
            if starts is not None and ends is not None:
                out.append(Sentence(int(starts[a]), int(ends[b - 1]), " ".join(stripped.split())))
            else:
                out.append(Sentence(a, b, " ".join(stripped.split())))
        if boundary is not None:
            begin = boundary.end()
        if len(out) >= MAX_SENTENCES:
            break
    return out


def content_hashes(text: str) -> npt.NDArray[np.uint32]:
    """The 32-bit word hashes (as word records store them) of a text's content words."""
    words = [w for w in tokenize(text).words if w not in _STOPWORDS and len(w) > 1]
    if not words:
        return np.zeros(0, dtype=np.uint32)
    return np.unique(short_hashes(fp.word_hashes(words)))


# What is not a content word, as word records store words (hashes).
_NOT_CONTENT = np.unique(
    short_hashes(fp.word_hashes(sorted(_STOPWORDS | set("abcdefghijklmnopqrstuvwxyz0123456789"))))
)


def stored_content(words: WordRecord, start: int, end: int) -> npt.NDArray[np.uint32]:
    """The content words of a stored work between two character offsets (hashes)."""
    inside = words.words[(words.starts >= start) & (words.ends <= end)]
    return np.setdiff1d(inside, _NOT_CONTENT)


@dataclass(frozen=True)
class SentenceRecord:
    """A work's embedded sentences as stored: spans in the work and int8 unit vectors."""

    spans: npt.NDArray[np.uint32]  # n x 2: [start, end) characters
    vectors: npt.NDArray[np.int8]  # n x dimensions, each a unit vector times 127

    def __len__(self) -> int:
        return len(self.spans)

    def to_bytes(self) -> bytes:
        n, dims = self.vectors.shape if len(self.vectors) else (0, 0)
        header = np.array([n, dims], dtype="<u4").tobytes()
        return header + self.spans.astype("<u4").tobytes() + self.vectors.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentenceRecord:
        n, dims = (int(x) for x in np.frombuffer(data, dtype="<u4", count=2))
        spans = np.frombuffer(data, dtype="<u4", offset=8, count=2 * n).reshape(n, 2)
        vectors = np.frombuffer(data, dtype=np.int8, offset=8 + 8 * n, count=n * dims)
        return cls(spans.astype(np.uint32), vectors.reshape(n, dims))

    @classmethod
    def of(cls, found: Sequence[Sentence], vectors: npt.NDArray[np.float32]) -> SentenceRecord:
        spans = np.array([(s.start, s.end) for s in found], dtype=np.uint32).reshape(-1, 2)
        return cls(spans, quantise(vectors))


def quantise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.int8]:
    """Unit vectors as int8 (x127): a quarter of the size, cosine within about 0.005."""
    return np.clip(np.rint(vectors * 127.0), -127, 127).astype(np.int8)


@dataclass(frozen=True)
class ParaphraseRules:
    # Chosen on MSRP's training pairs (bench/paraphrase_bench.py prints how): the most
    # recall with at most 0.5% of unrelated passages attributed, in an index of 1,725
    # news articles. A pair of sentences counts when the cosine of their embeddings...
    min_similarity: float = 0.64
    # ... and the overlap (Jaccard) of their content words reach these: a paraphrase
    # keeps names, numbers and key terms; a sentence on the same topic that says
    # something else shares few.
    min_overlap: float = 0.30
    neighbours: int = 8  # work sentences considered per sentence of the text
    # Candidates the vector index proposes per sentence, re-ranked by exact cosine before
    # the nearest `neighbours` are kept (the compressed index's similarities are
    # estimates: its order near the top is not exact).
    candidates: int = 16
    max_works: int = 16


@dataclass(frozen=True)
class Neighbour:
    doc_id: int
    sentence: int
    similarity: float


def rerank(
    queries: npt.NDArray[np.int8],
    candidates: Sequence[Sequence[Neighbour]],
    records: dict[int, SentenceRecord],
    keep: int,
) -> list[list[Neighbour]]:
    """Each query's candidates with their exact cosine (from the stored int8 vectors),
    nearest first, at most `keep`; a candidate whose record is gone is dropped."""
    out: list[list[Neighbour]] = []
    for query, near in zip(queries, candidates, strict=True):
        known = [
            n
            for n in near
            if (record := records.get(n.doc_id)) is not None and n.sentence < len(record)
        ]
        if not known:
            out.append([])
            continue
        stored = np.stack([records[n.doc_id].vectors[n.sentence] for n in known])
        cosines = _cosines(query, stored)
        order = np.argsort(-cosines, kind="stable")[:keep]
        out.append(
            [Neighbour(known[i].doc_id, known[i].sentence, float(cosines[i])) for i in order]
        )
    return out


def _cosines(query: npt.NDArray[np.int8], stored: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
    q = query.astype(np.float64)
    s = stored.astype(np.float64)
    norms = np.linalg.norm(s, axis=1) * np.linalg.norm(q)
    return np.asarray((s @ q) / np.maximum(norms, 1e-12))


def paraphrase_matches(
    text_words: int,
    found: Sequence[Sentence],
    neighbours: Sequence[Sequence[Neighbour]],
    spans: dict[int, npt.NDArray[np.uint32]],
    documents: dict[int, IndexedDocument],
    rules: ParaphraseRules,
) -> list[Match]:
    """Verified sentence pairs grouped by work; best-supported works first."""
    pairs: dict[int, list[Span]] = {}
    for sentence, near in zip(found, neighbours, strict=True):
        mine: npt.NDArray[np.uint32] | None = None
        for n in near:
            document = documents.get(n.doc_id)
            doc_spans = spans.get(n.doc_id)
            if n.similarity < rules.min_similarity or document is None or doc_spans is None:
                continue
            if n.sentence >= len(doc_spans):
                continue
            if mine is None:
                mine = content_hashes(sentence.text)
            start, end = (int(x) for x in doc_spans[n.sentence])
            theirs = stored_content(document.words, start, end)
            shared = int(np.isin(mine, theirs).sum())
            union = len(mine) + len(theirs) - shared
            overlap = shared / union if union else 0.0
            if overlap < rules.min_overlap:
                continue
            taken = pairs.setdefault(n.doc_id, [])
            if any(s.query_start == sentence.start for s in taken):
                continue  # one work sentence per sentence of the text: the nearest
            taken.append(
                Span(
                    sentence.start,
                    sentence.end,
                    start,
                    end,
                    matched_words=shared,
                    edits=0,
                    longest_run=0,
                    meaning=round(n.similarity, 4),
                    overlap=round(overlap, 4),
                )
            )
    matches = [
        _match(text_words, documents[doc], sorted(found_spans, key=lambda s: s.query_start))
        for doc, found_spans in pairs.items()
    ]
    matches.sort(key=lambda m: (-m.score, m.document.work))
    return matches[: rules.max_works]


def _match(text_words: int, document: IndexedDocument, spans: list[Span]) -> Match:
    similarity = sum(s.similarity for s in spans) / len(spans)
    covered = sum(s.matched_words for s in spans)
    work_words = max(1, len(document.words))
    return Match(
        document=document,
        spans=spans,
        matched_words=covered,
        query_coverage=min(1.0, covered / max(1, text_words)),
        work_coverage=min(1.0, covered / work_words),
        longest_run=0,
        match_type=MatchType.PARAPHRASE,
        # More restated sentences, more closely: more evidence (3 sentences: full).
        score=round(min(1.0, len(spans) / 3) * similarity, 4),
        similarity=round(similarity, 4),
    )
