"""Event keys record how their digest was computed: keys stored until now hold version 1
(fields joined by a separator, times to the microsecond); new keys are written with
version 2 (every field length-prefixed, times to the nanosecond).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    with op.batch_alter_table("event_keys") as batch:
        batch.add_column(
            sa.Column("digest_version", sa.SmallInteger(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("event_keys") as batch:
        batch.drop_column("digest_version")
