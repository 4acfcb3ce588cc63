"""handoff to a person (waiting, held, timeouts, operator message delivery)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('messages', sa.Column('delivery_status', sqlmodel.sql.sqltypes.AutoString(length=16),
                                        server_default='', nullable=False))
    op.add_column('messages', sa.Column('delivery_error', sa.Text(), server_default='', nullable=False))
    # Partial: the runners' sweep looks only at the few messages still to send, never at all of them.
    op.create_index('ix_messages_delivery_pending', 'messages', ['created_at'], unique=False,
                    postgresql_where=sa.text("delivery_status = 'pending'"))
    op.add_column('dialogs', sa.Column('operator_active_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_dialogs_status_handoff', 'dialogs', ['status', 'handoff_at'], unique=False)
    op.alter_column('assistants', 'handoff_timeout_minutes', server_default='10')


def downgrade() -> None:
    op.alter_column('assistants', 'handoff_timeout_minutes', server_default=None)
    op.drop_index('ix_dialogs_status_handoff', table_name='dialogs')
    op.drop_column('dialogs', 'operator_active_at')
    op.drop_index('ix_messages_delivery_pending', table_name='messages')
    op.drop_column('messages', 'delivery_error')
    op.drop_column('messages', 'delivery_status')
