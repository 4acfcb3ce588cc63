"""operator chat (issue 22 part 1): one-time link codes, linked Telegram operators, who holds a dialog
from Telegram, the bot's messages in an operator's chat (replies to them reach the customer), and the
owner's quiet hours for alerts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 21:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'operator_link_codes',
        sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('owner_id', sa.Uuid(), nullable=False),
        sa.Column('bot_id', sa.Uuid(), nullable=False),
        sa.Column('created_at', _TS, nullable=False),
        sa.Column('expires_at', _TS, nullable=False),
        sa.Column('used_at', _TS, nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('code_hash'),
    )
    op.create_index('ix_operator_link_codes_owner_id', 'operator_link_codes', ['owner_id'])
    op.create_index('ix_operator_link_codes_bot_id', 'operator_link_codes', ['bot_id'])
    op.create_table(
        'telegram_operators',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('owner_id', sa.Uuid(), nullable=False),
        sa.Column('bot_id', sa.Uuid(), nullable=False),
        sa.Column('telegram_user_id', sa.BigInteger(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('linked_at', _TS, nullable=False),
        sa.Column('alerted_until', _TS, nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bot_id', 'telegram_user_id', name='uq_telegram_operators_bot_user'),
    )
    op.create_index('ix_telegram_operators_owner_id', 'telegram_operators', ['owner_id'])
    op.create_index('ix_telegram_operators_bot_id', 'telegram_operators', ['bot_id'])
    op.create_table(
        'operator_holds',
        sa.Column('dialog_id', sa.Uuid(), nullable=False),
        sa.Column('operator_id', sa.Uuid(), nullable=False),
        sa.Column('taken_at', _TS, nullable=False),
        sa.Column('forwarded_until', _TS, nullable=False),
        sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['operator_id'], ['telegram_operators.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('dialog_id'),
    )
    op.create_index('ix_operator_holds_operator_id', 'operator_holds', ['operator_id'])
    op.create_table(
        'operator_chat_messages',
        sa.Column('operator_id', sa.Uuid(), nullable=False),
        sa.Column('telegram_message_id', sa.BigInteger(), nullable=False),
        sa.Column('dialog_id', sa.Uuid(), nullable=False),
        sa.Column('created_at', _TS, nullable=False),
        sa.ForeignKeyConstraint(['operator_id'], ['telegram_operators.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('operator_id', 'telegram_message_id'),
    )
    op.create_index('ix_operator_chat_messages_dialog_id', 'operator_chat_messages', ['dialog_id'])
    op.create_table(
        'operator_alert_settings',
        sa.Column('owner_id', sa.Uuid(), nullable=False),
        sa.Column('quiet_start', sa.SmallInteger(), nullable=True),
        sa.Column('quiet_end', sa.SmallInteger(), nullable=True),
        sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('updated_at', _TS, nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('owner_id'),
    )


def downgrade() -> None:
    op.drop_table('operator_alert_settings')
    op.drop_table('operator_chat_messages')
    op.drop_table('operator_holds')
    op.drop_table('telegram_operators')
    op.drop_table('operator_link_codes')
