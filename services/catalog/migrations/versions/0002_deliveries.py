"""Licensed content deliveries (GetWorkContent), recorded for metering.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.sqltypes import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("vendor", sa.String(length=80), nullable=False),
        sa.Column("work", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("license", sa.String(length=80), nullable=False),
        sa.Column("use", sa.String(length=16), nullable=False),
        sa.Column("territory", sa.String(length=2), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("delivery_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("vendor", "request_id", name="uq_deliveries_vendor_request"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
