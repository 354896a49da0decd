"""An index for listing offers by state across publishers (vendors' published offers).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("offers_state", "offers", ["state", "publisher_id", "id"])


def downgrade() -> None:
    op.drop_index("offers_state", table_name="offers")
