"""The settlement schema: periods, snapshots, billed state, pools, budgets, the ledger,
invoices, statements, payouts.

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
        "balance_snapshots",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("through_sequence", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("currency", "through_sequence", "account"),
    )
    op.create_table(
        "billed_state",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("charges", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("period", "vendor"),
    )
    op.create_table(
        "budgets",
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("alert_bps", sa.Integer(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "currency"),
    )
    op.create_table(
        "holder_snapshots",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("work", sa.String(length=255), nullable=False),
        sa.Column("holders", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("period", "work"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger(), nullable=False),
        sa.Column("issue_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("invoices_by_vendor", "invoices", ["vendor", "period"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ledger_entries_by_account", "ledger_entries", ["account", "currency"], unique=False
    )
    op.create_index(
        "ledger_entries_by_transaction", "ledger_entries", ["currency", "sequence"], unique=False
    )
    op.create_table(
        "ledger_heads",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("currency"),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("currency", "sequence"),
        sa.UniqueConstraint("key", name="ledger_transactions_key"),
    )
    op.create_table(
        "license_snapshots",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("license", sa.String(length=128), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("period", "license"),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("external_reference", sa.String(length=255), nullable=False),
        sa.Column("failure_reason", sa.String(length=512), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", name="payouts_request_id"),
    )
    op.create_index("payouts_by_party", "payouts", ["party"], unique=False)
    op.create_index("payouts_by_state", "payouts", ["state"], unique=False)
    op.create_table(
        "periods",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start_time", UtcDateTime(), nullable=False),
        sa.Column("end_time", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("close_time", UtcDateTime(), nullable=False),
        sa.Column("closed_time", UtcDateTime(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "pools",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", "vendor", "currency"),
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gross", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("ledger_hash", sa.String(length=64), nullable=False),
        sa.Column("first_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("issue_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("statements_by_party", "statements", ["party", "period"], unique=False)


def downgrade() -> None:
    op.drop_index("statements_by_party", table_name="statements")
    op.drop_table("statements")
    op.drop_table("pools")
    op.drop_table("periods")
    op.drop_index("payouts_by_state", table_name="payouts")
    op.drop_index("payouts_by_party", table_name="payouts")
    op.drop_table("payouts")
    op.drop_table("license_snapshots")
    op.drop_table("ledger_transactions")
    op.drop_table("ledger_heads")
    op.drop_index("ledger_entries_by_transaction", table_name="ledger_entries")
    op.drop_index("ledger_entries_by_account", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("invoices_by_vendor", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("holder_snapshots")
    op.drop_table("budgets")
    op.drop_table("billed_state")
    op.drop_table("balance_snapshots")
