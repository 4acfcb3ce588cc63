"""chunks.unit_embeddings: one vector per paragraph/row of a multi-unit chunk (chatai/rag/passage_vectors.py)

Existing chunks keep NULL (ranked by their chunk vector as before) until the ingest worker backfills them
(chatai/rag/reembed.py backfill_units), resumably and without a provider switch.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:40:00
"""
from collections.abc import Sequence

import pgvector.sqlalchemy
import sqlalchemy as sa

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('chunks', sa.Column('unit_embeddings', sa.ARRAY(pgvector.sqlalchemy.Vector(), dimensions=1),
                                      nullable=True))
    # What the backfill looks for (chatai/rag/reembed.py UNITS_MISSING): empty once it is done.
    op.create_index('ix_chunks_units_missing', 'chunks', ['id'], postgresql_where=sa.text(
        "unit_embeddings IS NULL AND embedding IS NOT NULL AND strpos(text, chr(10)) > 0"))


def downgrade() -> None:
    op.drop_index('ix_chunks_units_missing', table_name='chunks')
    op.drop_column('chunks', 'unit_embeddings')
