"""Word substitutions and insertions as paraphrasers make them, taken from the MSRP
corpus (pairs of news sentences labelled as paraphrases): where two paraphrases differ by
one word between identical neighbours, that word pair is a real rewording. Read in place
from the shared research corpora and never copied; without them, words drawn from
unrelated text stand in (and the report says so).
"""

from __future__ import annotations

import csv
import difflib
import random
from collections import defaultdict
from dataclasses import dataclass, field

from bench.provenance_corpus import SHARED

MSRP_TRAIN = SHARED / "msrp" / "msr_paraphrase_train.txt"


@dataclass
class Rewordings:
    source: str
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # lower-cased word -> others
    insertions: list[str] = field(default_factory=list)  # words paraphrasers add
    fallback: list[str] = field(default_factory=list)
    substituted: int = 0
    from_corpus: int = 0

    def substitute(self, word: str, rng: random.Random) -> str:
        self.substituted += 1
        options = self.synonyms.get(_bare(word))
        if options:
            self.from_corpus += 1
            return rng.choice(options)
        return rng.choice(self.fallback)

    def insertion(self, rng: random.Random) -> str:
        return rng.choice(self.insertions or self.fallback)


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'()").lower()


def load(fallback: list[str]) -> Rewordings:
    if not MSRP_TRAIN.exists():
        return Rewordings("words of unrelated articles (MSRP corpus absent)", fallback=fallback)
    synonyms: dict[str, set[str]] = defaultdict(set)
    insertions: list[str] = []
    with MSRP_TRAIN.open(encoding="utf-8-sig", newline="") as rows:
        for row in csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 5 or row[0] != "1":
                continue
            a, b = row[3].split(), row[4].split()
            matcher = difflib.SequenceMatcher(None, [_bare(w) for w in a], [_bare(w) for w in b])
            for op, i1, i2, j1, j2 in matcher.get_opcodes():
                if op == "replace" and i2 - i1 == 1 and j2 - j1 == 1:
                    x, y = _bare(a[i1]), _bare(b[j1])
                    if x.isalpha() and y.isalpha() and x != y:
                        synonyms[x].add(y)
                        synonyms[y].add(x)
                elif op == "insert" and j2 - j1 == 1 and _bare(b[j1]).isalpha():
                    insertions.append(_bare(b[j1]))
    return Rewordings(
        "word pairs aligned in MSRP training paraphrases",
        {w: sorted(s) for w, s in synonyms.items()},
        insertions,
        fallback,
    )
