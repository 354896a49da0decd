"""Crawler analytics for publishers: per publisher, hour, crawler (the bot, the AI
User-Agent claimed, or the vendor) and outcome (licensed, paid, payment-required,
refused-<code>, unverified-blocked...), how many requests the toll saw. Counted in memory
on the request path (a dict increment), written to the edge's SQLite file every second
by the spool relay's clock, and exported to Prometheus as
`licentia_toll_requests_total{outcome}` and the spool backlog as a gauge."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import Counter as PromCounter

from services.edge.domain.toll import Verdict

TOLL_REQUESTS = PromCounter(
    "licentia_toll_requests", "Requests the toll decided, by outcome", ["outcome"]
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS crawler_hours (
    publisher TEXT NOT NULL,
    hour TEXT NOT NULL,
    crawler TEXT NOT NULL,
    vendor TEXT NOT NULL,
    outcome TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (publisher, hour, crawler, vendor, outcome)
)
"""
Key = tuple[str, str, str, str, str]  # publisher, hour, crawler, vendor, outcome


class CrawlerAnalytics:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._pending: Counter[Key] = Counter()
        self._lock = threading.Lock()

    def count(self, publisher: str, verdict: Verdict) -> None:
        """One decided request (people are not counted: they are nobody's business)."""
        TOLL_REQUESTS.labels(verdict.outcome).inc()
        if verdict.outcome == "human":
            return
        hour = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
        key = (publisher, hour, verdict.agent or "-", verdict.vendor or "-", verdict.outcome)
        with self._lock:
            self._pending[key] += 1

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO crawler_hours VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
            "SET requests = requests + excluded.requests",
            [(*key, n) for key, n in pending.items()],
        )
        self._db.execute("COMMIT")

    def rows(self, publisher: str, since_hour: str) -> list[dict[str, object]]:
        self.flush()
        found = self._db.execute(
            "SELECT hour, crawler, vendor, outcome, requests FROM crawler_hours "
            "WHERE publisher = ? AND hour >= ? ORDER BY hour, crawler, vendor, outcome",
            (publisher, since_hour),
        ).fetchall()
        return [
            {"hour": h, "crawler": c, "vendor": v, "outcome": o, "requests": n}
            for h, c, v, o, n in found
        ]

    def close(self) -> None:
        self.flush()
        self._db.close()
