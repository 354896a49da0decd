"""Provenance accuracy report: excerpts of indexed articles inserted into unrelated news
text, checked the way CheckText checks them, scored per case type.

A reported work counts as correct when the checked text really shares a run of 12 or
more normalised words with it (a re-filed or longer version of the same story is a
correct answer). Recall asks whether the work an excerpt came from was reported.

    python -m bench.provenance_accuracy [cases per type, default 400]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from bench.provenance_corpus import news_articles
from services.provenance.domain.documents import analyse, short_hashes
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.matching import IndexedDocument
from services.provenance.domain.normalize import tokenize
from services.provenance.domain.works import LicenseAnswer
from services.provenance.service_layer.checking import CheckService
from services.runtime.principal import OPERATOR

HELD_OUT = 1_500  # articles never indexed: unrelated text and filler
TRUTH_RUN = 12


class MemoryDocuments:
    def __init__(self) -> None:
        self.documents: dict[int, IndexedDocument] = {}

    def get(self, doc_ids: Iterable[int]) -> dict[int, IndexedDocument]:
        return {d: self.documents[d] for d in doc_ids if d in self.documents}


class NoLicenses:
    def answers(self, vendor: str, works: list[str], use: str) -> dict[str, LicenseAnswer]:
        return {}


@dataclass
class Case:
    text: str
    sources: list[int]  # doc ids the text was built from
    spans: list[tuple[int, int]] = field(default_factory=list)  # true spans in the text


@dataclass
class Tally:
    cases: int = 0
    found_all: int = 0
    sources: int = 0
    sources_found: int = 0
    reported: int = 0
    correct: int = 0
    texts_with_false: int = 0
    span_errors: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class Corpus:
    def __init__(self, bodies: list[str], rng: random.Random) -> None:
        rng.shuffle(bodies)
        self.held_out = bodies[:HELD_OUT]
        self.indexed = bodies[HELD_OUT:]
        self.rng = rng
        self.index = FingerprintIndex()
        self.documents = MemoryDocuments()
        self.grams12: dict[int, set[bytes]] = {}
        started = time.perf_counter()
        batch = []
        for doc_id, body in enumerate(self.indexed, start=1):
            text = analyse(body)
            self.documents.documents[doc_id] = IndexedDocument(
                doc_id, f"publishers/p/works/{doc_id}", 1, text.word_record()
            )
            batch.append((doc_id, text.fingerprints().to_bytes()))
        self.index.load(batch)
        self.build_seconds = time.perf_counter() - started
        self.checks = CheckService(self.index, self.documents, NoLicenses())

    def shares_run(self, text_words: np.ndarray, doc_id: int) -> bool:
        if doc_id not in self.grams12:
            self.grams12[doc_id] = _runs_of(self.documents.documents[doc_id].words.words)
        return not self.grams12[doc_id].isdisjoint(_runs_of(text_words))

    def excerpt(self, words: int) -> tuple[int, str]:
        """A slice of `words` consecutive words of an indexed article, as written there."""
        while True:
            doc_id = self.rng.randrange(1, len(self.indexed) + 1)
            body = self.indexed[doc_id - 1]
            tokens = tokenize(body)
            if len(tokens) >= words + 2:
                start = self.rng.randrange(0, len(tokens) - words)
                a, b = int(tokens.starts[start]), int(tokens.ends[start + words - 1])
                return doc_id, body[a:b]

    def filler(self, words: int) -> str:
        body = self.rng.choice(self.held_out).split()
        start = self.rng.randrange(0, max(1, len(body) - words))
        return " ".join(body[start : start + words])


def _runs_of(words: np.ndarray) -> set[bytes]:
    data = np.ascontiguousarray(words, dtype=np.uint32)
    if len(data) < TRUTH_RUN:
        return set()
    view = np.lib.stride_tricks.sliding_window_view(data, TRUTH_RUN)
    return {row.tobytes() for row in view}


def insert(corpus: Corpus, excerpts: list[tuple[int, str]]) -> Case:
    pieces = [corpus.filler(corpus.rng.randrange(40, 160))]
    spans = []
    at = len(pieces[0]) + 1
    for _, excerpt in excerpts:
        spans.append((at, at + len(excerpt)))
        pieces.append(excerpt)
        tail = corpus.filler(corpus.rng.randrange(20, 120))
        pieces.append(tail)
        at += len(excerpt) + 1 + len(tail) + 1
    return Case(" ".join(pieces), [d for d, _ in excerpts], spans)


def reformat(text: str, rng: random.Random) -> str:
    out = []
    for word in text.split():
        roll = rng.random()
        if roll < 0.1:
            word = word.upper()
        elif roll < 0.2:
            word = f"<b>{word}</b>"
        elif roll < 0.25 and len(word) > 3:
            word = word[:2] + "\u200b" + word[2:]
        elif roll < 0.3 and len(word) > 3:
            word = word[:2] + "\u00ad" + word[2:]
        word = word.replace("'", "\u2019").replace('"', "\u201c").replace("&", "&amp;")
        out.append(word)
    separators = [" ", "  ", "\n", " \n\t"]
    return "<p>" + "".join(w + rng.choice(separators) for w in out).strip() + "</p>"


def edit(text: str, every: int, rng: random.Random, vocabulary: list[str]) -> str:
    """One word changed, dropped or added in each block of `every` words."""
    words = text.split()
    out: list[str] = []
    for block in range(0, len(words), every):
        chunk = words[block : block + every]
        i = rng.randrange(len(chunk))
        op = rng.choice(("change", "drop", "add"))
        if op == "change":
            chunk[i] = rng.choice(vocabulary)
        elif op == "drop":
            del chunk[i]
        else:
            chunk.insert(i, rng.choice(vocabulary))
        out.extend(chunk)
    return " ".join(out)


def score(corpus: Corpus, cases: Iterable[Case], tally: Tally) -> None:
    for case in cases:
        started = time.perf_counter()
        result = corpus.checks.check(OPERATOR, case.text, "")
        tally.latencies.append(time.perf_counter() - started)
        text_words = short_hashes(analyse(case.text).word_hashes)
        reported = {m.match.document.doc_id: m.match for m in result.matches}
        tally.cases += 1
        tally.sources += len(set(case.sources))
        tally.sources_found += len(set(case.sources) & reported.keys())
        tally.found_all += set(case.sources) <= reported.keys()
        wrong = [d for d in reported if not corpus.shares_run(text_words, d)]
        tally.reported += len(reported)
        tally.correct += len(reported) - len(wrong)
        tally.texts_with_false += bool(wrong)
        for source, (a, b) in zip(case.sources, case.spans, strict=False):
            match = reported.get(source)
            if match is None:
                continue
            # The extent of the match's spans inside this excerpt (edits may split it).
            inside = [s for s in match.spans if s.query_end > a and s.query_start < b]
            if inside:
                start = min(s.query_start for s in inside)
                end = max(s.query_end for s in inside)
                tally.span_errors.append(abs(start - a) + abs(end - b))


def report(name: str, tally: Tally) -> None:
    recall = tally.sources_found / tally.sources if tally.sources else float("nan")
    precision = tally.correct / tally.reported if tally.reported else 1.0
    false_rate = tally.texts_with_false / tally.cases
    spans = np.array(tally.span_errors or [0])
    lat = np.array(tally.latencies) * 1e3
    print(
        f"{name:<24} {tally.cases:>6} {recall:>7.3f} {tally.found_all / tally.cases:>8.3f} "
        f"{precision:>9.4f} {false_rate:>8.4f} {np.median(spans):>6.0f} "
        f"{np.percentile(spans, 95):>6.0f} {np.percentile(lat, 50):>6.2f} "
        f"{np.percentile(lat, 99):>6.2f}"
    )


def main() -> None:
    per_case = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    source, bodies = news_articles()
    rng = random.Random(42)
    corpus = Corpus(bodies, rng)
    vocabulary = " ".join(corpus.held_out[:200]).split()
    print(f"Provenance accuracy: {source}")
    print(
        f"  indexed {len(corpus.indexed):,} articles in {corpus.build_seconds:.1f} s; "
        f"{len(corpus.held_out):,} held out as unrelated text; {per_case} cases per type"
    )
    print(
        f"{'case':<24} {'texts':>6} {'recall':>7} {'all3':>8} {'precision':>9} "
        f"{'false':>8} {'span':>6} {'p95':>6} {'p50ms':>6} {'p99ms':>6}"
    )
    builders: dict[str, Callable[[], Case]] = {
        "verbatim 25 words": lambda: insert(corpus, [corpus.excerpt(25)]),
        "verbatim 50-80 words": lambda: insert(corpus, [corpus.excerpt(rng.randrange(50, 81))]),
        "reformatted 50-80 words": lambda: _reformatted(corpus, rng),
        "edited 1 per 25 (100w)": lambda: _edited(corpus, rng, 25, vocabulary),
        "edited 1 per 12 (100w)": lambda: _edited(corpus, rng, 12, vocabulary),
        "three 60-word excerpts": lambda: _three(corpus),
    }
    for name, build in builders.items():
        tally = Tally()
        score(corpus, (build() for _ in range(per_case)), tally)
        report(name, tally)
    unrelated = Tally()
    texts = corpus.held_out[: max(per_case, 600)]
    score(corpus, (Case(t, []) for t in texts), unrelated)
    report("unrelated articles", unrelated)
    print(
        "recall: sources found; all3: every source found; precision: reported works sharing "
        "a 12-word run;\nfalse: texts with a wrong attribution; span/p95: characters between "
        "reported and true excerpt boundaries"
    )


def _reformatted(corpus: Corpus, rng: random.Random) -> Case:
    doc_id, excerpt = corpus.excerpt(rng.randrange(50, 81))
    return insert(corpus, [(doc_id, reformat(excerpt, rng))])


def _edited(corpus: Corpus, rng: random.Random, every: int, vocabulary: list[str]) -> Case:
    doc_id, excerpt = corpus.excerpt(100)
    return insert(corpus, [(doc_id, edit(excerpt, every, rng, vocabulary))])


def _three(corpus: Corpus) -> Case:
    excerpts: list[tuple[int, str]] = []
    while len({d for d, _ in excerpts}) < 3:
        excerpts = [corpus.excerpt(60) for _ in range(3)]
    return insert(corpus, excerpts)


if __name__ == "__main__":
    main()
