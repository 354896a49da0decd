"""The settlement service's tables (SQLAlchemy Core). Migrations create them.

The ledger (transactions, entries) is append-only: no statement here updates or deletes
them. Balances are sums of entries, from the latest snapshot on.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.runtime.sqltypes import AutoIncrementId, UtcDateTime

metadata = MetaData()

periods = Table(
    "periods",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=False),
    # CLOSING, then CLOSED.
    Column("state", String(16), nullable=False),
    # `sealed`, `snapshot` or `posted`: the last step done, where a resumed close goes on.
    Column("step", String(16), nullable=False),
    # When the close was asked for: the posting time of everything it issues.
    Column("close_time", UtcDateTime, nullable=False),
    Column("closed_time", UtcDateTime),
    Column("request_id", String(128), nullable=False),
)

# Licenses as they were when a period closed (the terms are frozen in licensing).
license_snapshots = Table(
    "license_snapshots",
    metadata,
    Column("period", Integer, primary_key=True),
    Column("license", String(128), primary_key=True),
    Column("terms", JSON, nullable=False),
)

# Rights holders of the works a period bills, as they were when it closed.
holder_snapshots = Table(
    "holder_snapshots",
    metadata,
    Column("period", Integer, primary_key=True),
    Column("work", String(255), primary_key=True),
    Column("holders", JSON, nullable=False),
)

# Per period and vendor: the usage billed so far and what it was charged (late usage
# re-rates a closed period against this).
billed_state = Table(
    "billed_state",
    metadata,
    Column("period", Integer, primary_key=True),
    Column("vendor", String(128), primary_key=True),
    Column("usage", JSON, nullable=False),
    Column("charges", JSON, nullable=False),
)

# A vendor's attribution pool (revenue to share) for a period, in minor units.
pools = Table(
    "pools",
    metadata,
    Column("period", Integer, primary_key=True),
    Column("vendor", String(128), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

budgets = Table(
    "budgets",
    metadata,
    Column("vendor", String(128), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("alert_bps", Integer, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("currency", String(3), primary_key=True),
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reference", String(255), nullable=False),
    Column("posted_at", UtcDateTime, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("key", name="ledger_transactions_key"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("currency", String(3), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Column("account", String(255), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # Canonical JSON, exactly as hashed.
    Column("detail", Text, nullable=False),
)
Index("ledger_entries_by_transaction", ledger_entries.c.currency, ledger_entries.c.sequence)
Index("ledger_entries_by_account", ledger_entries.c.account, ledger_entries.c.currency)

# The end of each currency's chain: locked by every posting, so chains never fork.
ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("currency", String(3), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Account balances through a transaction, taken when a period closes.
balance_snapshots = Table(
    "balance_snapshots",
    metadata,
    Column("currency", String(3), primary_key=True),
    Column("through_sequence", BigInteger, primary_key=True),
    Column("account", String(255), primary_key=True),
    Column("balance", BigInteger, nullable=False),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("period", Integer, nullable=False),
    Column("vendor", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("ledger_sequence", BigInteger, nullable=False),
    Column("issue_time", UtcDateTime, nullable=False),
)
Index("invoices_by_vendor", invoices.c.vendor, invoices.c.period)

statements = Table(
    "statements",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("period", Integer, nullable=False),
    Column("party", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("gross", BigInteger, nullable=False),
    Column("commission", BigInteger, nullable=False),
    Column("net", BigInteger, nullable=False),
    Column("line_count", Integer, nullable=False),
    # SHA-256 of the statement's lines, and the ledger hash they were posted under.
    Column("digest", String(64), nullable=False),
    Column("ledger_hash", String(64), nullable=False),
    Column("first_sequence", BigInteger, nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("issue_time", UtcDateTime, nullable=False),
)
Index("statements_by_party", statements.c.party, statements.c.period)

payouts = Table(
    "payouts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("party", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # PENDING, PAID or FAILED.
    Column("state", String(16), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("external_reference", String(255), nullable=False),
    Column("failure_reason", String(512), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    UniqueConstraint("request_id", name="payouts_request_id"),
)
Index("payouts_by_party", payouts.c.party)
Index("payouts_by_state", payouts.c.state)
