"""Vendors' crawlers and their signing keys, for the toll at publishers' edges.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.sqltypes import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("public_keys", sa.JSON(), nullable=False),
        sa.Column("key_ids", sa.JSON(), nullable=False),
        sa.Column("key_directory_url", sa.String(length=2048), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bots_vendor", "bots", ["vendor"])


def downgrade() -> None:
    op.drop_index("ix_bots_vendor", table_name="bots")
    op.drop_table("bots")
