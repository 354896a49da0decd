"""Paraphrase attribution: each indexed document's embedded sentences (spans and int8
vectors), so a replica that starts loads them instead of embedding the corpus again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sentence_vectors",
        sa.Column("document_id", sa.BigInteger, primary_key=True),
        # The model the vectors came from: vectors of another model are embedded again.
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("sentences", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sentence_vectors")
