"""business_connections; dialogs.business_connection_id in the dialog key (Telegram Business, issue 22 part 2)

A business chat and the bot's own chat with the same customer share the customer's chat id, so the key of
a Telegram dialog becomes (bot, channel, business connection, chat).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 22:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'business_connections',
        sa.Column('bot_id', sa.Uuid(), nullable=False),
        sa.Column('connection_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('owner_id', sa.Uuid(), nullable=False),
        sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
        sa.Column('user_chat_id', sa.BigInteger(), nullable=False),
        sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('can_reply', sa.Boolean(), nullable=False),
        sa.Column('rights', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('connected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('bot_id', 'connection_id'),
    )
    op.create_index(op.f('ix_business_connections_owner_id'), 'business_connections', ['owner_id'], unique=False)
    op.add_column('dialogs', sa.Column('business_connection_id', sqlmodel.sql.sqltypes.AutoString(length=128),
                                       server_default='', nullable=False))
    op.drop_constraint('uq_dialogs_bot_chat', 'dialogs', type_='unique')
    op.create_unique_constraint('uq_dialogs_bot_chat', 'dialogs',
                                ['bot_id', 'channel', 'business_connection_id', 'telegram_chat_id'])


def downgrade() -> None:
    op.drop_constraint('uq_dialogs_bot_chat', 'dialogs', type_='unique')
    op.execute("DELETE FROM dialogs WHERE channel = 'business'")
    op.create_unique_constraint('uq_dialogs_bot_chat', 'dialogs', ['bot_id', 'telegram_chat_id'])
    op.drop_column('dialogs', 'business_connection_id')
    op.drop_index(op.f('ix_business_connections_owner_id'), table_name='business_connections')
    op.drop_table('business_connections')
