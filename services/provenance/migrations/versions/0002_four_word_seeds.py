"""Fingerprints become winnowed word 4-grams (they were 5-grams): rebuild every stored
document's fingerprints from its stored words, so a replica starting on this database
loads an index that light rewording cannot slip past.

Words indexed before this revision keep the normalisation they were indexed with (text
between angle brackets that is not a tag, and list numbering, are read as the newer
rules read them only when a work is next revised).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from services.provenance.domain.documents import WordRecord, fingerprints_of

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BATCH = 2_000

documents = sa.table(
    "documents",
    sa.column("id", sa.BigInteger),
    sa.column("word_count", sa.Integer),
    sa.column("fingerprints", sa.LargeBinary),
    sa.column("words", sa.LargeBinary),
)


def upgrade() -> None:
    connection = op.get_bind()
    after = -1
    while True:
        rows = connection.execute(
            sa.select(documents.c.id, documents.c.words)
            .where(documents.c.id > after, documents.c.word_count > 0)
            .order_by(documents.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            documents.update()
            .where(documents.c.id == sa.bindparam("doc"))
            .values(fingerprints=sa.bindparam("prints")),
            [
                {
                    "doc": doc_id,
                    "prints": fingerprints_of(WordRecord.from_bytes(bytes(words))).to_bytes(),
                }
                for doc_id, words in rows
            ],
        )
        after = rows[-1][0]


def downgrade() -> None:
    raise NotImplementedError("5-gram fingerprints cannot be rebuilt from 32-bit words")
