"""The metering service's tables (SQLAlchemy Core). Migrations create them.

Deduplication lives in its own key table: on PostgreSQL the raw events will be
partitioned by time, and a unique index on a partitioned table must include the
partition key, which an idempotency key cannot.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
)

from services.runtime.sqltypes import AutoIncrementId, UtcDateTime

metadata = MetaData()

# One row per (vendor, event id) ever accepted: what makes ingestion exactly-once.
event_keys = Table(
    "event_keys",
    metadata,
    Column("vendor", String(128), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("digest", LargeBinary(16), nullable=False),
    Column("record_time", UtcDateTime, nullable=False),
    # How `digest` was computed (events.py): keys stored before version 2 hold 1.
    Column("digest_version", SmallInteger, nullable=False, server_default="1"),
)

usage_events = Table(
    "usage_events",
    metadata,
    Column("seq", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("vendor", String(128), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("license", String(128), nullable=False),
    Column("publisher", String(128), nullable=False),
    Column("work", String(255), nullable=False),
    Column("use", String(16), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("occur_time", UtcDateTime, nullable=False),
    Column("source", String(128), nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("record_time", UtcDateTime, nullable=False),
    # The seal the event came after, when it was for time already sealed (0: on time).
    Column("late_seal", Integer, nullable=False),
    # Corrections: `void` or `amend`, the event corrected, and the quantity the vendor
    # stated (`quantity` is what is counted: the difference the correction makes).
    Column("correction", String(8), nullable=False),
    Column("corrects", String(128), nullable=False),
    Column("stated_quantity", BigInteger, nullable=False),
)
Index("usage_events_by_license_time", usage_events.c.license, usage_events.c.occur_time)
Index("usage_events_by_id", usage_events.c.vendor, usage_events.c.event_id)

# One row per corrected event: an event is corrected once (a later correction names the
# correction), claimed in the same transaction as the correction itself.
corrections = Table(
    "corrections",
    metadata,
    Column("vendor", String(128), primary_key=True),
    Column("original_id", String(128), primary_key=True),
    Column("correction_id", String(128), nullable=False),
)

# Hourly totals, written in the same transaction as the events they count.
usage_hourly = Table(
    "usage_hourly",
    metadata,
    Column("vendor", String(128), primary_key=True),
    Column("publisher", String(128), primary_key=True),
    Column("license", String(128), primary_key=True),
    Column("work", String(255), primary_key=True),
    Column("use", String(16), primary_key=True),
    Column("unit", String(16), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("late_seal", Integer, primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
)
Index("usage_hourly_by_hour", usage_hourly.c.hour)
Index("usage_hourly_by_late_seal", usage_hourly.c.late_seal)
# A license's usage in the open period (cap warnings).
Index("usage_hourly_by_license", usage_hourly.c.license, usage_hourly.c.unit, usage_hourly.c.hour)

# Settlement's seals: usage before `end_time` is closed for billing from `seal_time` on.
usage_seals = Table(
    "usage_seals",
    metadata,
    Column("seal", Integer, primary_key=True, autoincrement=False),
    Column("end_time", UtcDateTime, nullable=False),
    Column("seal_time", UtcDateTime, nullable=False),
)

# The latest seal, in one row (id 1): ingestion reads it under a shared lock, a seal
# takes the lock alone to update it, so no batch in flight can miss a seal or be missed
# by one (see UsageRepository.fence).
usage_fence = Table(
    "usage_fence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seal", Integer, nullable=False),
    Column("end_time", UtcDateTime, nullable=False),
)
