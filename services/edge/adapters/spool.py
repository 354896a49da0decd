"""The durable spool of allowed crawls: a SQLite file on the edge's disk, written before
the crawler is answered (WAL, so a commit costs microseconds and survives the process
being killed), and sent to metering in batches by a relay thread. An event's id comes
from the request (token id + URL), and metering deduplicates by id, so a crash between
sending and forgetting, or an outage of metering, neither loses nor doubles a crawl."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from services.edge.domain.toll import Crawl
from services.runtime.errors import Unavailable
from services.runtime.usage_reporting import ServiceUsage, UsageRecorder

log = logging.getLogger("licentia.edge")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS crawls (
    event_id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    license TEXT NOT NULL,
    work TEXT NOT NULL,
    use TEXT NOT NULL,
    at TEXT NOT NULL,
    -- pending, or what metering answered when it was not counted (REJECTED, CONFLICT).
    state TEXT NOT NULL DEFAULT 'pending',
    note TEXT NOT NULL DEFAULT ''
)
"""


class CrawlSpool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.execute("CREATE INDEX IF NOT EXISTS pending ON crawls (state, vendor)")
        self._lock = threading.Lock()

    def add(self, crawl: Crawl) -> None:
        """Durable when it returns; a crawl recorded twice (the same request decided
        again) is kept once."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO crawls (event_id, vendor, license, work, use, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (crawl.event_id, crawl.vendor, crawl.license, crawl.work, crawl.use,
                 crawl.at.isoformat()),
            )  # fmt: skip

    def backlog(self) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT count(*) FROM crawls WHERE state = 'pending'").fetchone()[
                    0
                ]
            )

    def pending(self, limit: int) -> dict[str, list[ServiceUsage]]:
        """The oldest unsent crawls, by vendor."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, vendor, license, work, use, at FROM crawls "
                "WHERE state = 'pending' ORDER BY rowid LIMIT ?",
                (limit,),
            ).fetchall()
        by_vendor: dict[str, list[ServiceUsage]] = {}
        for event_id, vendor, license_name, work, use, at in rows:
            by_vendor.setdefault(vendor, []).append(
                ServiceUsage(event_id, license_name, work, use, "crawls", 1,
                             datetime.fromisoformat(at), "edge")
            )  # fmt: skip
        return by_vendor

    def settle(self, sent: list[str], refused: list[tuple[str, str, str]]) -> None:
        """Forget what metering counted; keep what it refused, with its answer."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM crawls WHERE event_id = ?", [(i,) for i in sent])
            self._db.executemany(
                "UPDATE crawls SET state = ?, note = ? WHERE event_id = ?",
                [(status, note[:500], i) for i, status, note in refused],
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SpoolRelay:
    """Sends the spool to metering: batches of up to 1,000 crawls, retried with backoff
    while metering is unreachable."""

    def __init__(self, spool: CrawlSpool, metering: UsageRecorder, idle_seconds: float) -> None:
        self._spool = spool
        self._metering = metering
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-spool", daemon=True)
        self._down_since: float | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop, after one last round so a pod being replaced leaves nothing behind when
        metering answers (what it cannot send stays in the spool file)."""
        self._stop.set()
        self._thread.join(10)
        try:
            self.run_once()
        except Exception as error:  # metering unreachable: the spool keeps the crawls
            log.warning("stopping with %d crawls not yet counted (%s)", self._spool.backlog(),
                        type(error).__name__)  # fmt: skip

    def run_once(self) -> int:
        """One round; how many crawls metering counted."""
        counted = 0
        for vendor, events in self._spool.pending(1_000).items():
            answers = self._metering.record(vendor, events)
            # CONFLICT: the same request (token or nonce, and URL) was counted earlier,
            # at another time: this crawl is that one, already counted.
            counted_before = [a.recorded or a.status == "CONFLICT" for a in answers]
            sent = [e.id for e, done in zip(events, counted_before, strict=True) if done]
            refused = [
                (e.id, a.status, f"{a.reason}: {a.message}")
                for e, a, done in zip(events, answers, counted_before, strict=True)
                if not done and not a.retry_later
            ]
            for event_id, status, note in refused:
                log.warning("metering did not count crawl %s: %s %s", event_id, status, note)
            self._spool.settle(sent, refused)
            counted += len(sent)
        return counted

    def _run(self) -> None:
        backoff = self._idle
        while not self._stop.is_set():
            try:
                self.run_once()
                if self._down_since is not None:
                    log.info("metering answers again; the spool is draining")
                self._down_since, backoff = None, self._idle
            except Unavailable:
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("metering is unreachable; crawls wait in the spool")
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("the spool relay failed a round; it will try again")
                backoff = min(backoff * 2, 5.0)
            self._stop.wait(backoff)
