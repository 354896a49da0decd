"""The provenance service's tables (SQLAlchemy Core). Migrations create them.

The database is the system of record for the index: every replica loads its in-memory
arrays from `documents` at start and follows the catalog's feed from there.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

from services.runtime.event_relay import cursor_table
from services.runtime.sqltypes import AutoIncrementId, UtcDateTime

metadata = MetaData()

# One row per work ever seen: the version indexed now, or a tombstone. Versions only
# move forward and a tombstone is final, which makes replaying the feed harmless.
indexed_works = Table(
    "indexed_works",
    metadata,
    Column("work", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
    # The document now searchable for this work; NULL once the work is deleted.
    Column("document_id", BigInteger, nullable=True),
    Column("deleted", Boolean, nullable=False),
    Column("event_sequence", BigInteger, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

# One row per indexed version of a work; its id is the document id in memory. A
# superseded or deleted version keeps its row (so every replica can drop it from memory)
# but loses its data.
documents = Table(
    "documents",
    metadata,
    Column("id", AutoIncrementId, primary_key=True, autoincrement=True),
    Column("work", String(255), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("word_count", Integer, nullable=False),
    # Fingerprints (see domain.documents.Fingerprints.to_bytes).
    Column("fingerprints", LargeBinary, nullable=False),
    # Word hashes and offsets for verification (domain.documents.WordRecord.to_bytes).
    Column("words", LargeBinary, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
)

# One row per document whose sentences are embedded (the semantic stage): spans and int8
# vectors (domain.paraphrase.SentenceRecord.to_bytes). A superseded document's row goes
# when its data does.
sentence_vectors = Table(
    "sentence_vectors",
    metadata,
    Column("document_id", BigInteger, primary_key=True),
    Column("model", String(64), nullable=False),
    Column("sentences", LargeBinary, nullable=False),
)

event_cursors = cursor_table(metadata)
