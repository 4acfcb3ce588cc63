"""inbox tools (issue 23): internal notes in transcripts, labels on dialogs, canned replies, notes about
customers, and the customer's Telegram @username on dialogs (for the customer card)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 21:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _owner() -> sa.Column:
    return sa.Column('owner_id', sa.Uuid(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False)


def _author() -> list[sa.Column]:
    return [sa.Column('author_id', sa.Uuid(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
            sa.Column('author_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False)]


def upgrade() -> None:
    op.add_column('dialogs', sa.Column('user_username', sqlmodel.sql.sqltypes.AutoString(length=64),
                                       server_default='', nullable=False))
    op.create_table(
        'dialog_notes',
        sa.Column('id', sa.Uuid(), primary_key=True), _owner(),
        sa.Column('dialog_id', sa.Uuid(), sa.ForeignKey('dialogs.id', ondelete='CASCADE'), nullable=False),
        *_author(), sa.Column('text', sa.Text(), nullable=False), _ts('created_at'))
    op.create_index('ix_dialog_notes_owner_id', 'dialog_notes', ['owner_id'])
    op.create_index('ix_dialog_notes_dialog_created', 'dialog_notes', ['dialog_id', 'created_at'])
    op.create_table(
        'inbox_labels',
        sa.Column('id', sa.Uuid(), primary_key=True), _owner(),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column('color', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False), _ts('created_at'),
        sa.UniqueConstraint('owner_id', 'name', name='uq_inbox_labels_owner_name'))
    op.create_index('ix_inbox_labels_owner_id', 'inbox_labels', ['owner_id'])
    op.create_table(
        'dialog_labels',
        sa.Column('dialog_id', sa.Uuid(), sa.ForeignKey('dialogs.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('label_id', sa.Uuid(), sa.ForeignKey('inbox_labels.id', ondelete='CASCADE'), primary_key=True),
        _ts('created_at'))
    op.create_index('ix_dialog_labels_label_dialog', 'dialog_labels', ['label_id', 'dialog_id'])
    op.create_table(
        'canned_replies',
        sa.Column('id', sa.Uuid(), primary_key=True), _owner(),
        sa.Column('shortcut', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column('body', sa.Text(), nullable=False), _ts('created_at'), _ts('updated_at'),
        sa.UniqueConstraint('owner_id', 'shortcut', name='uq_canned_replies_owner_shortcut'))
    op.create_index('ix_canned_replies_owner_id', 'canned_replies', ['owner_id'])
    op.create_table(
        'customer_notes',
        sa.Column('id', sa.Uuid(), primary_key=True), _owner(),
        sa.Column('customer_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        *_author(), sa.Column('text', sa.Text(), nullable=False), _ts('created_at'))
    op.create_index('ix_customer_notes_owner_customer', 'customer_notes', ['owner_id', 'customer_key', 'created_at'])
    # The customer card finds a person's other dialogs by their Telegram id within the business.
    op.create_index('ix_dialogs_owner_tg_user', 'dialogs', ['owner_id', 'telegram_user_id'],
                    postgresql_where=sa.text('telegram_user_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_dialogs_owner_tg_user', table_name='dialogs')
    for table in ('customer_notes', 'canned_replies', 'dialog_labels', 'inbox_labels', 'dialog_notes'):
        op.drop_table(table)
    op.drop_column('dialogs', 'user_username')
