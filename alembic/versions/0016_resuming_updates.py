"""telegram_updates: a partial index on the questions a top-up handed back ('resuming'), so the runners'
sweep that claims them (chatai/services/topup_resume.py) reads a nearly empty index every few seconds
instead of scanning every update ever received

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_telegram_updates_resuming ON telegram_updates (bot_id) WHERE status = 'resuming'")


def downgrade() -> None:
    op.execute("DROP INDEX ix_telegram_updates_resuming")
