"""Generated news-like articles: text the project makes itself, for demos, tests and
benchmarks (no third-party corpus needed).

Words follow a Zipf-like distribution over a vocabulary of common English words and
invented ones, in sentences and paragraphs, so articles share everyday phrases the way
real news does while each one stays distinct. Deterministic for a given seed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

_COMMON_WORDS = (
    "the of and to a in that is was he for it with as his on be at by i this had not are "
    "but from or have an they which one you were her all she there would their we him been "
    "has when who will more no if out so said what up its about into than them can only "
    "other new some could time these two may then do first any my now such like our over "
    "man me even most made after also did many before must through back years where much "
    "your way well down should because each just those people mr how too little state good "
    "very make world still own see men work long get here between both life being under "
    "never day same another know while last might us great old year off come since against "
    "go came right used take three minister government company market prices bank report "
    "police city council election court health school officials president week month "
    "percent million billion shares profit growth economy workers plan policy spokesman"
)
_COMMON = _COMMON_WORDS.split()
_ONSETS = ("b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p",
           "pr", "r", "s", "st", "t", "tr", "v", "w", "z")  # fmt: skip
_NUCLEI = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou")
_CODAS = ("", "n", "r", "s", "t", "l", "m", "nd", "st", "x")


def _invented(count: int) -> list[str]:
    syllables = [o + n + c for o, n, c in itertools.product(_ONSETS, _NUCLEI, _CODAS)]
    words = [a + b for a, b in itertools.product(syllables, repeat=2)]
    rng = np.random.default_rng(7)
    return [words[i] for i in rng.choice(len(words), size=count, replace=False)]


VOCABULARY = _COMMON + _invented(30_000)
_WEIGHTS = 1.0 / np.arange(1, len(VOCABULARY) + 1) ** 0.9
_WEIGHTS /= _WEIGHTS.sum()
_CUMULATIVE = np.cumsum(_WEIGHTS)
_ARRAY = np.array(VOCABULARY, dtype=object)


@dataclass(frozen=True)
class Article:
    title: str
    body: str


class ArticleGenerator:
    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)

    def words(self, count: int) -> list[str]:
        picks = np.searchsorted(_CUMULATIVE, self._rng.random(count))
        return list(_ARRAY[np.minimum(picks, len(VOCABULARY) - 1)])

    def text(self, words: int) -> str:
        """Sentences of 8 to 24 words, paragraphs of 3 to 6 sentences."""
        tokens = self.words(words)
        lengths = self._rng.integers(8, 25, size=words // 8 + 1)
        sentences = []
        at = 0
        for length in lengths:
            if at >= words:
                break
            sentence = tokens[at : at + length]
            at += length
            sentences.append(sentence[0].capitalize() + " " + " ".join(sentence[1:]) + ".")
        paragraphs = []
        while sentences:
            size = int(self._rng.integers(3, 7))
            paragraphs.append(" ".join(sentences[:size]))
            sentences = sentences[size:]
        return "\n\n".join(paragraphs)

    def article(self, words: int = 400) -> Article:
        title = " ".join(self.words(6)).capitalize()
        return Article(title, self.text(words))
