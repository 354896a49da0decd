"""Provenance's in-process index at the size of a large catalogue: prints figures; never
a pass/fail test.

PROVENANCE_SCALE_WORKS (default 10,000,000) works of 400 words, each with the number of
fingerprints a 400-word article gets (57), as synthetic uniformly random keys, built
straight into the compact main layer one bucket range at a time (the real load sorts
stored fingerprints; building them this way keeps this bench's own peak memory close to
the index's). 2,000 generated articles are indexed on top, really fingerprinted, and
600-word texts quoting 0, 1 or 3 of them (50-word excerpts, every fifth word changed in
half of them) are checked in process through the service layer, documents in memory.

Figures: resident memory of the process, query index bytes per work, CheckText p50/p99
per kind of text. Used for the sizing table in the README.
"""

from __future__ import annotations

import gc
import os
import random
import time

import numpy as np

from bench.provenance_accuracy import MemoryDocuments, NoLicenses
from services.provenance.domain import fingerprint_index as fi
from services.provenance.domain.documents import analyse
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.domain.matching import IndexedDocument
from services.provenance.service_layer.checking import CheckService
from services.runtime.principal import OPERATOR
from services.samples.articles import ArticleGenerator

WORKS = int(os.environ.get("PROVENANCE_SCALE_WORKS", "10000000"))
PER_WORK = 57  # fingerprints of a 400-word article (winnowing keeps one 4-gram in seven)
REAL = 2_000
QUERIES = 600


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def synthetic_main(works: int, rng: np.random.Generator) -> fi._Main:
    """Uniform random keys of `works` documents (ids 1..works), sorted, built per bucket
    range so no full-size temporary is ever made."""
    total = works * PER_WORK
    bits = fi._bits_for(total)
    low = np.empty(total, dtype=np.uint32)
    docs = np.empty(total, dtype=np.uint32)
    counts = np.zeros(1 << bits, dtype=np.int64)
    chunks = 256
    per_chunk = rng.multinomial(total, [1 / chunks] * chunks)
    span = (1 << fi.KEY_BITS) // chunks
    written = 0
    for chunk, size in enumerate(per_chunk.tolist()):
        keys = np.sort(rng.integers(chunk * span, (chunk + 1) * span, size, dtype=np.uint64))
        low[written : written + size] = keys & np.uint64(0xFFFFFFFF)
        docs[written : written + size] = rng.integers(1, works + 1, size, dtype=np.uint32)
        ids, sizes = np.unique(keys >> np.uint64(fi.KEY_BITS - bits), return_counts=True)
        counts[ids.astype(np.int64)] += sizes
        written += size
    return fi._Main._with_counts(low, docs, bits, counts)


def main() -> None:
    rng = np.random.default_rng(1)
    before = rss()
    started = time.perf_counter()
    index = FingerprintIndex()
    index._grow(WORKS + REAL + 1)
    index._live[1 : WORKS + 1] = PER_WORK + 1
    index._documents, index._fingerprints = WORKS, WORKS * PER_WORK
    index._state = fi._State(synthetic_main(WORKS, rng), ())
    built = time.perf_counter() - started
    generator = ArticleGenerator(seed=4)
    documents = MemoryDocuments()
    bodies = [generator.text(400) for _ in range(REAL)]
    added = []
    for i, body in enumerate(bodies):
        doc_id = WORKS + 1 + i
        analysed = analyse(body)
        documents.documents[doc_id] = IndexedDocument(
            doc_id, f"publishers/p/works/r{i}", 1, analysed.word_record()
        )
        added.append((doc_id, analysed.fingerprints()))
    index.apply(added)
    gc.collect()
    stats = index.stats()
    print(
        f"Provenance index at {WORKS:,} works ({stats.fingerprints:,} fingerprints; built in "
        f"{built:.0f} s): {stats.memory_bytes / stats.documents:.0f} bytes per work in the query "
        f"arrays; process resident {rss() / 2**30:.2f} GiB "
        f"({(rss() - before) / stats.documents:.0f} bytes per work over the start)"
    )
    checks = CheckService(index, documents, NoLicenses())
    pick = random.Random(2)
    filler = ArticleGenerator(seed=77)
    for quoting in (0, 1, 3):
        latencies: list[float] = []
        found = [0, 0]  # quoted works found: in verbatim texts, in reworded texts
        others = 0  # works reported that the text does not quote
        for q in range(QUERIES):
            words = filler.words(600)
            quoted = set()
            for k in range(quoting):
                i = pick.randrange(REAL)
                quoted.add(WORKS + 1 + i)
                source = bodies[i].split()
                start = pick.randrange(0, len(source) - 50)
                excerpt = source[start : start + 50]
                if q % 2:  # reworded: every fifth word changed
                    excerpt = [w if (j + 1) % 5 else "changed" for j, w in enumerate(excerpt)]
                at = 50 + 180 * k
                words[at : at + 50] = excerpt
            text = " ".join(words)
            t0 = time.perf_counter()
            result = checks.check(OPERATOR, text, "")
            latencies.append(time.perf_counter() - t0)
            reported = {m.match.document.doc_id for m in result.matches}
            found[q % 2] += len(quoted & reported)
            others += len(reported - quoted)
        lat = np.array(latencies) * 1e3
        expected = max(1, QUERIES // 2 * quoting)
        print(
            f"  CheckText in process, 600 words quoting {quoting} works (50-word excerpts): "
            f"p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms; found "
            f"{found[0] / expected:.2f} verbatim, {found[1] / expected:.2f} with every fifth word "
            f"changed; {others} other works reported"
        )


if __name__ == "__main__":
    main()
