"""The licensing service's tables (SQLAlchemy Core). Migrations create them.

Terms are stored as JSON documents (see terms_codec): they are read and written whole,
and a license's copy must never change with the offer it came from.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from services.runtime.outbox import outbox_table
from services.runtime.request_ids import request_ids_table
from services.runtime.sqltypes import UtcDateTime

metadata = MetaData()

offers = Table(
    "offers",
    metadata,
    Column("publisher_id", String(63), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("terms", JSON, nullable=False),
    Column("auto_accept_floor_micros", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("publish_time", UtcDateTime, nullable=True),
    Column("etag", String(32), nullable=False),
)
# Vendors list the published offers of every publisher, in name order.
Index("offers_state", offers.c.state, offers.c.publisher_id, offers.c.id)

# Per-publisher commission overrides; absent: the operator's default.
commission_rates = Table(
    "commission_rates",
    metadata,
    Column("publisher_id", String(63), primary_key=True),
    Column("commission_bps", Integer, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

proposals = Table(
    "proposals",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("offer", String(200), nullable=False, index=True),
    Column("vendor", String(80), nullable=False, index=True),
    Column("publisher", String(80), nullable=False, index=True),
    Column("terms", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("turn", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("expire_time", UtcDateTime, nullable=False),
    Column("license", String(80), nullable=False),
    Column("accept_request_id", String(128), nullable=False),
    Column("etag", String(32), nullable=False),
)

# Every step of every negotiation, append-only.
proposal_steps = Table(
    "proposal_steps",
    metadata,
    Column("proposal_id", String(63), primary_key=True),
    Column("ordinal", Integer, primary_key=True),
    Column("action", String(16), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("changed_fields", JSON, nullable=False),
    Column("note", Text, nullable=False),
)

licenses = Table(
    "licenses",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("vendor", String(80), nullable=False, index=True),
    Column("publisher", String(80), nullable=False, index=True),
    Column("offer", String(200), nullable=False),
    Column("proposal", String(80), nullable=False, unique=True),
    Column("terms", JSON, nullable=False),
    Column("commission_bps", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("start_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=True),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("state_reason", Text, nullable=False),
    Column("etag", String(32), nullable=False),
)

# Ed25519 keys that sign license tokens. A retired key stays published (for verifying)
# until `retire_time`, by when every token it signed has expired.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("retire_time", UtcDateTime, nullable=True),
)

request_ids = request_ids_table(metadata)

outbox = outbox_table(metadata)
