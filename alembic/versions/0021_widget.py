"""widget_settings, widget_conversations, widget_client_messages: the website chat widget (issue 21)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 21:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'widget_settings',
        sa.Column('assistant_id', sa.Uuid(), nullable=False),
        sa.Column('owner_id', sa.Uuid(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('allowed_sites', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('operator_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('avatar', sa.LargeBinary(), nullable=True),
        sa.Column('avatar_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('accent_color', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column('position', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('welcome', sa.Text(), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('show_sources', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('assistant_id'),
    )
    op.create_index(op.f('ix_widget_settings_owner_id'), 'widget_settings', ['owner_id'], unique=False)
    op.create_table(
        'widget_conversations',
        sa.Column('dialog_id', sa.Uuid(), nullable=False),
        sa.Column('assistant_id', sa.Uuid(), nullable=False),
        sa.Column('visitor_id', sa.Uuid(), nullable=False),
        sa.Column('site', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('dialog_id'),
    )
    op.create_index('ix_widget_conversations_visitor', 'widget_conversations',
                    ['assistant_id', 'visitor_id', 'created_at'], unique=False)
    op.create_table(
        'widget_client_messages',
        sa.Column('dialog_id', sa.Uuid(), nullable=False),
        sa.Column('client_message_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('message_id', sa.Uuid(), nullable=True),
        sa.Column('answer_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['dialog_id'], ['dialogs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['answer_id'], ['messages.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('dialog_id', 'client_message_id'),
    )


def downgrade() -> None:
    op.drop_table('widget_client_messages')
    op.drop_index('ix_widget_conversations_visitor', table_name='widget_conversations')
    op.drop_table('widget_conversations')
    op.drop_index(op.f('ix_widget_settings_owner_id'), table_name='widget_settings')
    op.drop_table('widget_settings')
