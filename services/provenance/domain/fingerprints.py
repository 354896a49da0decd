"""Word 4-gram hashes and winnowing.

Each normalised word is hashed with xxh3-64 (stable across processes and machines); a
4-gram's hash combines the top 32 bits of its four word hashes polynomially and is then
mixed (splitmix64's finaliser), all in vectorised uint64 arithmetic. Building grams from
the 32-bit word hashes that verification stores means fingerprints can be rebuilt from
the database alone.

Winnowing keeps, from every window of WINDOW consecutive 4-gram hashes, the smallest.
Guarantee: any run of GUARANTEE_WORDS (= GRAM + WINDOW - 1) words a text shares with a
work contains at least one of the work's fingerprints. A checked text's 4-grams are all
looked up (not winnowed), so a shared run yields every fingerprint of the work inside it.

Why 4 words and a window of 13: light rewording (one word in five changed, dropped or
added) leaves runs of four untouched words, so a seed must be at most four words long
to survive it; a work keeps about 2/(WINDOW+1), one in 7, of its 4-grams, so an
excerpt of 100 words reworded that way still holds ~3 of its fingerprints, while the
guarantee for unbroken runs is 16 words. (A window of 11 finds no more in the accuracy
report and costs a sixth more memory.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import xxhash

GRAM = 4
WINDOW = 13
GUARANTEE_WORDS = GRAM + WINDOW - 1

Hashes = npt.NDArray[np.uint64]
Positions = npt.NDArray[np.int64]

_POWERS = np.array([0x100000001B3**p for p in range(GRAM - 1, -1, -1)], dtype=object)
_POWERS_U64 = np.array([int(v) % 2**64 for v in _POWERS], dtype=np.uint64)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


class _WordHashCache(dict[str, int]):
    """Word hashes repeat (news vocabulary is small): computed once per process."""

    def __missing__(self, word: str) -> int:
        if len(self) > 2_000_000:  # bounded memory: start over
            self.clear()
        value = self[word] = xxhash.xxh3_64_intdigest(word.encode())
        return value


_WORD_HASHES = _WordHashCache()


def word_hashes(words: list[str]) -> Hashes:
    return np.fromiter(map(_WORD_HASHES.__getitem__, words), dtype=np.uint64, count=len(words))


def gram_hashes(words: Hashes) -> Hashes:
    """Hash of the 4-gram starting at each position (len(words) - GRAM + 1 of them),
    from 64-bit word hashes."""
    return stored_gram_hashes((words >> np.uint64(32)).astype(np.uint32))


def stored_gram_hashes(words: npt.NDArray[np.uint32]) -> Hashes:
    """The same 4-gram hashes from the 32-bit word hashes verification stores (the top
    half of each 64-bit one)."""
    words = words.astype(np.uint64)
    count = len(words) - GRAM + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(GRAM):
        combined += words[offset : offset + count] * _POWERS_U64[offset]
    return _mix(combined)


def _mix(z: Hashes) -> Hashes:
    z = z ^ (z >> np.uint64(30))
    z = z * _MIX1
    z = z ^ (z >> np.uint64(27))
    z = z * _MIX2
    return z ^ (z >> np.uint64(31))


def winnow(grams: Hashes, window: int = WINDOW) -> Positions:
    """Positions of the 4-grams winnowing selects (sorted, distinct).

    A position is selected when its hash is the minimum of some window containing it.
    Every window containing it has a minimum no larger than its hash, so that holds
    exactly when the largest of those minima equals its hash: two sliding extrema,
    each computed by doubling, with no per-window Python work.
    """
    if len(grams) == 0:
        return np.empty(0, dtype=np.int64)
    if len(grams) <= window:
        return np.array([int(np.argmin(grams))], dtype=np.int64)
    minima = _sliding(grams, window, np.minimum)
    pad = np.zeros(window - 1, dtype=np.uint64)  # windows that do not exist count as 0
    largest = _sliding(np.concatenate([pad, minima, pad]), window, np.maximum)
    return np.flatnonzero(largest == grams)


def _sliding(values: Hashes, window: int, pick: np.ufunc) -> Hashes:
    """pick() over every run of `window` consecutive values (len(values) - window + 1)."""
    span = 1
    out = values
    while span * 2 <= window:
        out = pick(out[:-span], out[span:])
        span *= 2
    if span < window:
        out = pick(out[: -(window - span)], out[window - span :])
    return out
