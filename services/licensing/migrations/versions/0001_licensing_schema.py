"""The licensing schema: offers, commission rates, proposals and their steps, licenses,
signing keys, request ids, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.sqltypes import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commission_rates",
        sa.Column("publisher_id", sa.String(length=63), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("publisher_id"),
    )
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("vendor", sa.String(length=80), nullable=False),
        sa.Column("publisher", sa.String(length=80), nullable=False),
        sa.Column("offer", sa.String(length=200), nullable=False),
        sa.Column("proposal", sa.String(length=80), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("start_time", UtcDateTime(), nullable=False),
        sa.Column("end_time", UtcDateTime(), nullable=True),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal"),
    )
    op.create_index(op.f("ix_licenses_publisher"), "licenses", ["publisher"], unique=False)
    op.create_index(op.f("ix_licenses_vendor"), "licenses", ["vendor"], unique=False)
    op.create_table(
        "offers",
        sa.Column("publisher_id", sa.String(length=63), nullable=False),
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("auto_accept_floor_micros", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.Column("publish_time", UtcDateTime(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("publisher_id", "id"),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("aggregate_type", sa.String(length=64), nullable=False),
        sa.Column("aggregate_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sequence"),
    )
    op.create_index(
        "outbox_unsequenced",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sequence IS NULL"),
        sqlite_where=sa.text("sequence IS NULL"),
    )
    op.create_table(
        "proposal_steps",
        sa.Column("proposal_id", sa.String(length=63), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("time", UtcDateTime(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("proposal_id", "ordinal"),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("offer", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=80), nullable=False),
        sa.Column("publisher", sa.String(length=80), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("turn", sa.String(length=16), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("expire_time", UtcDateTime(), nullable=False),
        sa.Column("license", sa.String(length=80), nullable=False),
        sa.Column("accept_request_id", sa.String(length=128), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_proposals_offer"), "proposals", ["offer"], unique=False)
    op.create_index(op.f("ix_proposals_publisher"), "proposals", ["publisher"], unique=False)
    op.create_index(op.f("ix_proposals_vendor"), "proposals", ["vendor"], unique=False)
    op.create_table(
        "request_ids",
        sa.Column("caller", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("resource", sa.String(length=512), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("caller", "request_id"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("retire_time", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("request_ids")
    op.drop_index(op.f("ix_proposals_vendor"), table_name="proposals")
    op.drop_index(op.f("ix_proposals_publisher"), table_name="proposals")
    op.drop_index(op.f("ix_proposals_offer"), table_name="proposals")
    op.drop_table("proposals")
    op.drop_table("proposal_steps")
    op.drop_index(
        "outbox_unsequenced",
        table_name="outbox",
        postgresql_where=sa.text("sequence IS NULL"),
        sqlite_where=sa.text("sequence IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_table("offers")
    op.drop_index(op.f("ix_licenses_vendor"), table_name="licenses")
    op.drop_index(op.f("ix_licenses_publisher"), table_name="licenses")
    op.drop_table("licenses")
    op.drop_table("commission_rates")
