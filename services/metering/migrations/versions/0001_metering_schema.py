"""The metering schema: event keys (deduplication), usage events, corrections, hourly
rollups, and the billing seals settlement sets.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from services.metering.adapters.partitions import ensure_partitions
from services.runtime.sqltypes import UtcDateTime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    partitioning: dict[str, Any] = (
        {"postgresql_partition_by": "RANGE (occur_time)"} if postgres else {}
    )
    op.create_table(
        "event_keys",
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("record_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "event_id"),
    )
    op.create_table(
        "usage_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("license", sa.String(length=128), nullable=False),
        sa.Column("publisher", sa.String(length=128), nullable=False),
        sa.Column("work", sa.String(length=255), nullable=False),
        sa.Column("use", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("occur_time", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("record_time", UtcDateTime(), nullable=False),
        sa.Column("late_seal", sa.Integer(), nullable=False),
        sa.Column("correction", sa.String(length=8), nullable=False),
        sa.Column("corrects", sa.String(length=128), nullable=False),
        sa.Column("stated_quantity", sa.BigInteger(), nullable=False),
        # PostgreSQL: partitioned by month of occur_time, so the key includes it.
        sa.PrimaryKeyConstraint("seq", "occur_time")
        if postgres
        else sa.PrimaryKeyConstraint("seq"),
        **partitioning,
    )
    if postgres:
        ensure_partitions(op.get_bind())
    op.create_index(
        "usage_events_by_license_time", "usage_events", ["license", "occur_time"], unique=False
    )
    op.create_index("usage_events_by_id", "usage_events", ["vendor", "event_id"], unique=False)
    op.create_table(
        "corrections",
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("original_id", sa.String(length=128), nullable=False),
        sa.Column("correction_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "original_id"),
    )
    op.create_table(
        "usage_hourly",
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("publisher", sa.String(length=128), nullable=False),
        sa.Column("license", sa.String(length=128), nullable=False),
        sa.Column("work", sa.String(length=255), nullable=False),
        sa.Column("use", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("hour", UtcDateTime(), nullable=False),
        sa.Column("late_seal", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "vendor", "publisher", "license", "work", "use", "unit", "hour", "late_seal"
        ),
    )
    op.create_index("usage_hourly_by_hour", "usage_hourly", ["hour"], unique=False)
    op.create_index("usage_hourly_by_late_seal", "usage_hourly", ["late_seal"], unique=False)
    op.create_index(
        "usage_hourly_by_license", "usage_hourly", ["license", "unit", "hour"], unique=False
    )
    op.create_table(
        "usage_seals",
        sa.Column("seal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("end_time", UtcDateTime(), nullable=False),
        sa.Column("seal_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seal"),
    )
    # One row: the latest seal. Ingestion reads it under a shared lock and a seal takes
    # the lock alone to update it, so a seal waits for batches in flight and later
    # batches see it.
    fence = op.create_table(
        "usage_fence",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seal", sa.Integer(), nullable=False),
        sa.Column("end_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(fence, [{"id": 1, "seal": 0, "end_time": EPOCH}])


def downgrade() -> None:
    op.drop_table("usage_fence")
    op.drop_table("usage_seals")
    op.drop_index("usage_hourly_by_license", table_name="usage_hourly")
    op.drop_index("usage_hourly_by_late_seal", table_name="usage_hourly")
    op.drop_index("usage_hourly_by_hour", table_name="usage_hourly")
    op.drop_table("usage_hourly")
    op.drop_table("corrections")
    op.drop_index("usage_events_by_id", table_name="usage_events")
    op.drop_index("usage_events_by_license_time", table_name="usage_events")
    op.drop_table("usage_events")
    op.drop_table("event_keys")
