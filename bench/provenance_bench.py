"""Provenance speed and size: prints figures; never a pass/fail test.

1. Fingerprinting (normalise, hash, winnow, word record) on one core, generated
   400-word articles. Target: at least 4,000 articles/s per core.
2. An index of PROVENANCE_BENCH_ARTICLES (default 1,000,000) generated 400-word articles,
   fingerprinted by one worker process per core and written to the embedded database
   the way the service stores them (verification words are kept for the 5,000 works
   the queries quote; the others store their fingerprints only, which is all the
   start-up load and the query index read).
3. Start-up: `licentia serve provenance` on that database, timed from launch to SERVING
   (the whole index loaded). Target: under 30 s.
4. Query index memory per article. Target: at most 600 bytes.
5. CheckText of 600-word texts (half quote two indexed works, half quote none): in
   process through the service layer, and through gRPC from this process to the
   server process, first with a cold document cache, then warm. Targets: p99 at most
   2 ms in process, 5 ms through gRPC.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import random
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from licentia.provenance.v1 import provenance_service_pb2 as api
from licentia.provenance.v1 import provenance_service_pb2_grpc as api_grpc
from sqlalchemy import insert

from bench.harness import OPERATOR, measure, running
from bench.provenance_accuracy import NoLicenses
from services.provenance import app as provenance_app
from services.provenance.adapters import tables
from services.provenance.domain.documents import analyse
from services.provenance.domain.fingerprint_index import FingerprintIndex
from services.provenance.service_layer.checking import CheckService, DocumentCache
from services.provenance.service_layer.unit_of_work import UnitOfWorkFactory
from services.runtime import migrations
from services.runtime.config import Settings
from services.runtime.memory import release_free_memory
from services.runtime.principal import OPERATOR as OPERATOR_PRINCIPAL
from services.runtime.sqltypes import utc_now
from services.samples.articles import ArticleGenerator

ARTICLES = int(os.environ.get("PROVENANCE_BENCH_ARTICLES", "1000000"))
QUOTED = 5_000
CHUNK = 10_000
QUERIES = 2_000


def _fingerprint_chunk(first: int) -> list[tuple[bytes, int]]:
    """Worker: generate and fingerprint articles [first, first + CHUNK)."""
    generator = ArticleGenerator(seed=first)
    out = []
    for _ in range(min(CHUNK, ARTICLES - first)):
        text = analyse(generator.text(400))
        out.append((text.fingerprints().to_bytes(), text.word_count))
    return out


def fingerprinting_rate() -> None:
    generator = ArticleGenerator(seed=1)
    bodies = [generator.text(400) for _ in range(20_000)]
    for body in bodies[:500]:
        analyse(body)  # warm the word-hash cache as a running service has it
    rates = []
    for _ in range(3):  # this machine is shared: the spread of three rounds is printed
        started = time.perf_counter()
        for body in bodies:
            text = analyse(body)
            text.fingerprints().to_bytes()
            text.word_record().to_bytes()
        rates.append(len(bodies) / (time.perf_counter() - started))
    print(
        f"fingerprinting: {sorted(rates)[1]:,.0f} articles/s on one core, median of 3 rounds "
        f"({min(rates):,.0f}-{max(rates):,.0f}) (target 4,000)"
    )


def build_database(data_dir: Path) -> list[str]:
    """Writes ARTICLES documents; returns the bodies of the first QUOTED ones."""
    settings = Settings(data_dir=data_dir)
    database = provenance_app.open_database(settings)
    migrations.upgrade(database, provenance_app.MIGRATIONS)
    generator = ArticleGenerator(seed=-1 % 2**32)
    quoted = [generator.text(400) for _ in range(QUOTED)]
    started = time.perf_counter()
    now = utc_now()
    written = 0

    def write(rows: list[tuple[bytes, bytes, int]]) -> None:
        nonlocal written
        docs, works = [], []
        for fingerprints, words, count in rows:
            written += 1
            work = f"publishers/p{written % 100}/works/w{written}"
            docs.append(
                {"id": written, "work": work, "version": 1, "word_count": count,
                 "fingerprints": fingerprints, "words": words, "create_time": now}
            )  # fmt: skip
            works.append(
                {"work": work, "version": 1, "document_id": written, "deleted": False,
                 "event_sequence": written, "update_time": now}
            )  # fmt: skip
        with database.write_transaction() as conn:
            conn.execute(insert(tables.documents), docs)
            conn.execute(insert(tables.indexed_works), works)

    texts = [analyse(body) for body in quoted]
    write([(t.fingerprints().to_bytes(), t.word_record().to_bytes(), t.word_count) for t in texts])
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        for chunk in pool.imap(_fingerprint_chunk, range(QUOTED, ARTICLES, CHUNK)):
            write([(f, b"", count) for f, count in chunk])
            if written % 100_000 < CHUNK:
                print(f"  {written:,} articles indexed into the database", flush=True)
    elapsed = time.perf_counter() - started
    print(
        f"built {written:,} articles in {elapsed:.0f} s "
        f"({written / elapsed:,.0f} articles/s with {os.cpu_count()} cores, database included)"
    )
    database.dispose()
    return quoted


def queries(quoted: list[str]) -> list[str]:
    rng = random.Random(3)
    generator = ArticleGenerator(seed=99)
    texts = []
    for i in range(QUERIES):
        filler = generator.words(600)
        if i % 2:
            for at in (100, 400):
                words = rng.choice(quoted).split()
                start = rng.randrange(0, len(words) - 50)
                filler[at : at + 50] = words[start : start + 50]
        texts.append(" ".join(filler))
    return texts


def in_process(data_dir: Path, texts: list[str]) -> None:
    settings = Settings(data_dir=data_dir)
    database = provenance_app.open_database(settings)
    uow = UnitOfWorkFactory(database)
    index = FingerprintIndex()
    rss_before = _rss()
    started = time.perf_counter()
    with uow(write=False) as work:
        index.load(work.index.current_fingerprints())
    release_free_memory()  # as the service does after its load
    load = time.perf_counter() - started
    stats = index.stats()
    print(
        f"index: {stats.documents:,} articles, {stats.fingerprints:,} fingerprints, "
        f"{stats.memory_bytes / stats.documents:.0f} bytes per article in the query arrays "
        f"(process grew {(_rss() - rss_before) / stats.documents:.0f} bytes per article); "
        f"loaded in {load:.1f} s in process (target 600 bytes)"
    )
    checks = CheckService(index, DocumentCache(uow, 20_000), NoLicenses())
    gc.collect()
    gc.freeze()  # as the server does once started
    # First pass: matched works are read from the database; second: from the cache, as
    # on a replica that has been serving for a while.
    for label in ("cold cache", "warm cache"):
        latencies = []
        found = 0
        for text in texts:
            t0 = time.perf_counter()
            result = checks.check(OPERATOR_PRINCIPAL, text, "")
            latencies.append(time.perf_counter() - t0)
            found += len(result.matches)
        lat = np.array(latencies) * 1e3
        print(
            f"CheckText in process (600 words, {label}): p50 {np.percentile(lat, 50):.2f} ms, "
            f"p99 {np.percentile(lat, 99):.2f} ms; {found:,} matches in {len(texts):,} texts "
            f"(target p99 2 ms)"
        )
    database.dispose()


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def through_grpc(port: int, texts: list[str]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = api_grpc.ProvenanceServiceStub(channel)
        metadata = (("authorization", f"Bearer {OPERATOR}"),)

        async def call(i: int) -> None:
            await stub.CheckText(
                api.CheckTextRequest(text=texts[i % len(texts)]), metadata=metadata
            )

        await measure("CheckText, cold cache", call, len(texts), 1)
        for concurrency in (1, 4):
            await measure("CheckText through gRPC (600 words)", call, len(texts), concurrency)


def main() -> None:
    fingerprinting_rate()
    with tempfile.TemporaryDirectory(prefix="licentia-provenance-bench-") as tmp:
        data_dir = Path(tmp)
        quoted = build_database(data_dir)
        texts = queries(quoted)
        in_process(data_dir, texts)
        with running(["provenance"], data_dir=str(data_dir), sqlite_only=True) as ports:
            asyncio.run(through_grpc(ports["provenance"], texts))


if __name__ == "__main__":
    main()
