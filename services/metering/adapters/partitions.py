"""Raw usage events on PostgreSQL are partitioned by month of their time: old months can
be detached or dropped without touching the rest, and queries on a license's period read
one or two partitions. Partitions are made ahead of time (three months), at migration
and then every few hours; a default partition catches anything outside them, so no event
is ever refused for want of a partition."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

from services.runtime.database import Database

log = logging.getLogger(__name__)
MONTHS_BACK = 2
MONTHS_AHEAD = 3
CHECK_SECONDS = 6 * 3600


def _month(moment: date, offset: int) -> date:
    index = moment.year * 12 + moment.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def ensure_partitions(conn: Connection, today: date | None = None) -> list[str]:
    """Create the monthly partitions around `today` that do not exist yet (and the
    default one); returns the ones created."""
    today = today or datetime.now(UTC).date()
    created = []
    # Replicas check at the same moments: one at a time, so none fails on a table another
    # has just created.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.partitions'))"))
    conn.execute(
        text("CREATE TABLE IF NOT EXISTS usage_events_default PARTITION OF usage_events DEFAULT")
    )
    for offset in range(-MONTHS_BACK, MONTHS_AHEAD + 1):
        start, end = _month(today, offset), _month(today, offset + 1)
        name = f"usage_events_{start:%Y_%m}"
        exists = conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar()
        if exists:
            continue
        bounds = f"FROM ('{start.isoformat()} 00:00+00') TO ('{end.isoformat()} 00:00+00')"
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF usage_events FOR VALUES {bounds}"))
        created.append(name)
    return created


class PartitionKeeper:
    """Keeps months ahead partitioned while metering runs (PostgreSQL only)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="partitions", daemon=True)

    def start(self) -> None:
        if self._database.is_postgres:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._database.write_transaction() as conn:
                    created = ensure_partitions(conn)
                if created:
                    log.info("created usage partitions %s", ", ".join(created))
            except Exception:  # the default partition keeps every event meanwhile
                log.warning("could not create usage partitions", exc_info=True)
            self._stopping.wait(CHECK_SECONDS)
