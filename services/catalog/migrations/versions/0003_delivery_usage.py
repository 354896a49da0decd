"""Deliveries remember whether they were recorded in metering as usage.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.sqltypes import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column("usage_state", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("usage_time", UtcDateTime(), nullable=True))
    op.create_index(
        "deliveries_to_meter",
        "deliveries",
        ["seq"],
        unique=False,
        postgresql_where=sa.text("usage_state = ''"),
        sqlite_where=sa.text("usage_state = ''"),
    )


def downgrade() -> None:
    op.drop_index("deliveries_to_meter", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("usage_time")
        batch.drop_column("usage_state")
