"""assistants.answer_certainty: "How sure before answering" (careful | balanced | bold), the threshold on the
calibrated confidence below which the assistant says "don't know" and hands off (chatai/rag/confidence.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 18:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('assistants', sa.Column('answer_certainty', sa.String(length=16), nullable=False,
                                          server_default='balanced'))
    op.create_check_constraint('ck_assistants_answer_certainty', 'assistants',
                               "answer_certainty IN ('careful', 'balanced', 'bold')")


def downgrade() -> None:
    op.drop_constraint('ck_assistants_answer_certainty', 'assistants', type_='check')
    op.drop_column('assistants', 'answer_certainty')
