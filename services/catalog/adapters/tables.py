"""The catalog's tables (SQLAlchemy Core). Migrations create them; see migrations/."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.runtime.outbox import outbox_table
from services.runtime.request_ids import request_ids_table
from services.runtime.sqltypes import AutoIncrementId, UtcDateTime

metadata = MetaData()

publishers = Table(
    "publishers",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("contact_email", String(320), nullable=False, default=""),
    Column("create_time", UtcDateTime, nullable=False),
)

vendors = Table(
    "vendors",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("contact_email", String(320), nullable=False, default=""),
    Column("create_time", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("account", String(128), nullable=False, index=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("create_time", UtcDateTime, nullable=False),
    Column("revoke_time", UtcDateTime, nullable=True),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", String(63), primary_key=True),  # the client_id
    Column("account", String(128), nullable=False, index=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("secret_hash", String(64), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("revoke_time", UtcDateTime, nullable=True),
)

bots = Table(
    "bots",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("vendor", String(128), nullable=False, index=True),
    Column("display_name", String(200), nullable=False),
    Column("user_agent", String(200), nullable=False),
    Column("public_keys", JSON, nullable=False),
    Column("key_ids", JSON, nullable=False),
    Column("key_directory_url", String(2048), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
)

# Idempotent creates: see services/runtime/request_ids.py.
request_ids = request_ids_table(metadata)

works = Table(
    "works",
    metadata,
    # Surrogate key: the stable order of pagination, and what versions and tags point at.
    Column("seq", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("publisher_id", String(63), ForeignKey("publishers.id"), nullable=False),
    Column("id", String(63), nullable=False),
    Column("external_id", String(255), nullable=True),
    Column("title", String(1000), nullable=False),
    Column("authors", JSON, nullable=False),
    Column("language", String(35), nullable=False),
    Column("section", String(200), nullable=False),
    # Read copy of the tags; work_tags is the index used by the tag filter.
    Column("tags", JSON, nullable=False),
    Column("canonical_url", String(2048), nullable=False),
    Column("publish_time", UtcDateTime, nullable=True),
    Column("rights_holders", JSON, nullable=False),
    Column("content_hash", String(71), nullable=False),
    Column("word_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("etag", String(32), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    # Deleted works are kept (settlement statements still name them) but hidden.
    Column("delete_time", UtcDateTime, nullable=True),
    UniqueConstraint("publisher_id", "id", name="works_publisher_id_key"),
    UniqueConstraint("publisher_id", "external_id", name="works_external_id_key"),
)
Index("works_section", works.c.section, works.c.seq)
Index("works_update_time", works.c.update_time)
Index("works_publish_time", works.c.publish_time)
# A canonical URL names one live work of a publisher; crawled URLs are looked up by it.
Index(
    "works_canonical_url",
    works.c.canonical_url,
    works.c.publisher_id,
    unique=True,
    postgresql_where=(works.c.canonical_url != "") & works.c.delete_time.is_(None),
    sqlite_where=(works.c.canonical_url != "") & works.c.delete_time.is_(None),
)

work_versions = Table(
    "work_versions",
    metadata,
    Column("work_seq", ForeignKey("works.seq"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(1000), nullable=False),
    Column("body", Text, nullable=False),
    Column("content_hash", String(71), nullable=False),
    Column("word_count", Integer, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
)

work_tags = Table(
    "work_tags",
    metadata,
    Column("work_seq", ForeignKey("works.seq"), primary_key=True),
    Column("tag", String(200), primary_key=True),
)
Index("work_tags_tag", work_tags.c.tag, work_tags.c.work_seq)

# Licensed content deliveries (GetWorkContent), in order: metering ingests them as usage.
deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("id", String(63), nullable=False, unique=True),
    Column("vendor", String(80), nullable=False),
    Column("work", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("license", String(80), nullable=False),
    Column("use", String(16), nullable=False),
    Column("territory", String(2), nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("delivery_time", UtcDateTime, nullable=False),
    # What metering answered when the delivery was recorded there as usage (ACCEPTED,
    # DUPLICATE, REJECTED:<reason>); empty while it still has to be sent.
    Column("usage_state", String(64), nullable=False, server_default=""),
    Column("usage_time", UtcDateTime, nullable=True),
    # A retried fetch (same vendor, same request id) is one delivery.
    UniqueConstraint("vendor", "request_id", name="uq_deliveries_vendor_request"),
)
Index(
    "deliveries_to_meter",
    deliveries.c.seq,
    postgresql_where=deliveries.c.usage_state == "",
    sqlite_where=deliveries.c.usage_state == "",
)

outbox = outbox_table(metadata)
