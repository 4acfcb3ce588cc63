"""assistants.answer_in_groups: Telegram group chats are answered only when the owner turns them on
(and then only when the bot is addressed: chatai/bots/group_chats.py). Existing assistants: off.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('assistants', sa.Column('answer_in_groups', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('assistants', 'answer_in_groups')
