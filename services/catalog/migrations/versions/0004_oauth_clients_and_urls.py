"""OAuth client credentials for the license server, and canonical URLs that name one
live work per publisher (crawled URLs are looked up by them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.sqltypes import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("revoke_time", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_oauth_clients_account", "oauth_clients", ["account"])
    # Stored URLs become canonical (scheme and host lower-case, no fragment) the next
    # time their work is written; a URL held by two live works of one publisher keeps
    # the oldest work's (the others are cleared) so that the index can be unique.
    works = sa.table(
        "works",
        sa.column("seq", sa.BigInteger),
        sa.column("publisher_id", sa.String),
        sa.column("canonical_url", sa.String),
        sa.column("delete_time", UtcDateTime),
    )
    live = works.c.delete_time.is_(None) & (works.c.canonical_url != "")
    first = (
        sa.select(sa.func.min(works.c.seq))
        .where(live)
        .group_by(works.c.publisher_id, works.c.canonical_url)
    )
    op.execute(works.update().where(live, works.c.seq.not_in(first)).values(canonical_url=""))
    where = sa.text("canonical_url <> '' AND delete_time IS NULL")
    op.create_index(
        "works_canonical_url",
        "works",
        ["canonical_url", "publisher_id"],
        unique=True,
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index("works_canonical_url", table_name="works")
    op.drop_index("ix_oauth_clients_account", table_name="oauth_clients")
    op.drop_table("oauth_clients")
