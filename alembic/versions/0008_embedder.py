"""embedder: resumable re-embedding progress per assistant (kb_reembed)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 22:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'kb_reembed',
        sa.Column('assistant_id', sa.Uuid(), nullable=False),
        sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('cursor', sa.Uuid(), nullable=True),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('assistant_id'),
    )


def downgrade() -> None:
    op.drop_table('kb_reembed')
