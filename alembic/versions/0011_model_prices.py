"""model_prices: the admin-editable LLM price table (USD micros per 1M prompt / completion tokens);
partial indexes for the admin system page's last failed sends and updates

Built-in defaults live in code (chatai/services/admin_money.py) so a fresh database has figures at once;
a row here overrides one model's default.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 23:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'model_prices',
        sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('prompt_usd_micros', sa.BigInteger(), nullable=False),
        sa.Column('completion_usd_micros', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('model'),
    )
    # The admin system page lists the newest failed sends and updates every few seconds: partial indexes
    # keep that a read of the few failed rows, not a scan of every message and update.
    op.execute("CREATE INDEX ix_messages_delivery_failed ON messages (created_at) WHERE delivery_status = 'failed'")
    op.execute("CREATE INDEX ix_telegram_updates_failed ON telegram_updates (received_at) WHERE status = 'failed'")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_telegram_updates_failed")
    op.execute("DROP INDEX IF EXISTS ix_messages_delivery_failed")
    op.drop_table('model_prices')
