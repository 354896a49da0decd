"""Provenance accuracy report: excerpts of indexed articles inserted into unrelated news
text, checked the way CheckText checks them, scored per case type.

A reported work counts as correct when it really shares text with the checked text,
judged independently of the matcher: a run of 12 or more normalised words in common, or
a reported span whose two sides an independent aligner (difflib) finds to share at least
20 words at a similarity of 0.7 or more (a re-filed, reworded or templated version of the
same text is a correct answer). Recall asks whether the work an excerpt came from was
reported. Rewording cases take their substitutions and insertions from word pairs
aligned in real paraphrases (bench/rewording.py).

    python -m bench.provenance_accuracy [cases per type, default 400]
"""

from __future__ import annotations

import difflib
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from bench import rewording
from bench.provenance_corpus import news_articles
from services.provenance.domain.documents import analyse, short_hashes
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.matching import IndexedDocument, Match
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
    texts_attributed: int = 0
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

    def really_shares(self, text: str, text_words: np.ndarray, match: Match) -> bool:
        if self.shares_run(text_words, match.document.doc_id):
            return True
        body = self.indexed[match.document.doc_id - 1]
        for span in match.spans:
            mine = tokenize(text[span.query_start : span.query_end]).words
            theirs = tokenize(body[span.work_start : span.work_end]).words
            aligner = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
            common = sum(block.size for block in aligner.get_matching_blocks())
            if common >= 20 and aligner.ratio() >= 0.7:
                return True
        return False

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


def wrap_in_brackets(text: str) -> str:
    """As wire copy marks company names: `<Shearson Lehman Brothers Inc>`."""
    return f"<{text}>"


def numbered(text: str, rng: random.Random, per_item: int = 9) -> str:
    words = text.split()
    items = [" ".join(words[i : i + per_item]) for i in range(0, len(words), per_item)]
    style = rng.choice(["{}.", "{})", "({})"])
    return "\n".join(f"{style.format(n)} {item}" for n, item in enumerate(items, 1))


def reword(text: str, every: int, op: str, rng: random.Random, words: rewording.Rewordings) -> str:
    """Every `every`-th word substituted (with a real paraphraser's word), dropped, or
    followed by an added word: the longest untouched run is `every` - 1 words."""
    out: list[str] = []
    for i, word in enumerate(text.split(), 1):
        if i % every:
            out.append(word)
        elif op == "substitute":
            out.append(words.substitute(word, rng))
        elif op == "insert":
            out.extend([word, words.insertion(rng)])
    return " ".join(out)


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
        wrong = [
            d
            for d, m in reported.items()
            if d not in case.sources and not corpus.really_shares(case.text, text_words, m)
        ]
        tally.reported += len(reported)
        tally.correct += len(reported) - len(wrong)
        tally.texts_with_false += bool(wrong)
        tally.texts_attributed += bool(set(reported) - set(case.sources))
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
        f"{precision:>9.4f} {false_rate:>8.4f} {tally.texts_attributed / tally.cases:>8.4f} "
        f"{np.median(spans):>6.0f} "
        f"{np.percentile(spans, 95):>6.0f} {np.percentile(lat, 50):>6.2f} "
        f"{np.percentile(lat, 99):>6.2f}"
    )


def main() -> None:
    per_case = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    source, bodies = news_articles()
    rng = random.Random(42)
    corpus = Corpus(bodies, rng)
    vocabulary = " ".join(corpus.held_out[:200]).split()
    words = rewording.load(vocabulary)
    print(f"Provenance accuracy: {source}; rewording from {words.source}")
    print(
        f"  indexed {len(corpus.indexed):,} articles in {corpus.build_seconds:.1f} s; "
        f"{len(corpus.held_out):,} held out as unrelated text; {per_case} cases per type"
    )
    print(
        f"{'case':<24} {'texts':>6} {'recall':>7} {'all3':>8} {'precision':>9} "
        f"{'false':>8} {'other':>8} {'span':>6} {'p95':>6} {'p50ms':>6} {'p99ms':>6}"
    )
    builders: dict[str, Callable[[], Case]] = {
        "verbatim 25 words": lambda: insert(corpus, [corpus.excerpt(25)]),
        "verbatim 50-80 words": lambda: insert(corpus, [corpus.excerpt(rng.randrange(50, 81))]),
        "reformatted 50-80 words": lambda: _reformatted(corpus, rng),
        "wrapped in <...> 50-80w": lambda: _changed(corpus, rng, 80, wrap_in_brackets),
        "numbered list, 9w items": lambda: _changed(corpus, rng, 80, lambda t: numbered(t, rng)),
        "edited 1 per 25 (100w)": lambda: _edited(corpus, rng, 25, vocabulary),
        "edited 1 per 12 (100w)": lambda: _edited(corpus, rng, 12, vocabulary),
        "three 60-word excerpts": lambda: _three(corpus),
    }
    for every in (10, 8, 5):
        for op in ("substitute", "drop", "insert"):
            if op != "substitute" and every == 10:
                continue
            builders[f"{op} every {every} (100w)"] = partial(
                _reworded, corpus, rng, words, every, op
            )
    for name, build in builders.items():
        tally = Tally()
        score(corpus, (build() for _ in range(per_case)), tally)
        report(name, tally)
    unrelated = Tally()
    texts = corpus.held_out[: max(per_case, 600)]
    score(corpus, (Case(t, []) for t in texts), unrelated)
    report("unrelated articles", unrelated)
    if words.substituted:
        print(
            f"substitutions: {words.from_corpus / words.substituted:.0%} from aligned "
            "paraphrases, the rest words of unrelated articles (no aligned pair for the word)"
        )
    print(
        "recall: sources found; all3: every source found; precision: reported works really "
        "sharing text\n(a 12-word run, or spans an independent aligner confirms: >= 20 words "
        "at similarity >= 0.7);\nfalse: texts with an attribution sharing no real text; "
        "other: texts attributed to a work they\nwere not built from (real shared text, "
        "e.g. wire templates, re-filed stories, included);\nspan/p95: characters between "
        "reported and true excerpt boundaries"
    )


def _reformatted(corpus: Corpus, rng: random.Random) -> Case:
    doc_id, excerpt = corpus.excerpt(rng.randrange(50, 81))
    return insert(corpus, [(doc_id, reformat(excerpt, rng))])


def _changed(corpus: Corpus, rng: random.Random, words: int, change: Callable[[str], str]) -> Case:
    doc_id, excerpt = corpus.excerpt(words)
    return insert(corpus, [(doc_id, change(excerpt))])


def _reworded(
    corpus: Corpus, rng: random.Random, words: rewording.Rewordings, every: int, op: str
) -> Case:
    return _changed(corpus, rng, 100, lambda t: reword(t, every, op, rng, words))


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
