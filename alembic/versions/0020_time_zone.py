"""users.time_zone: the business's clock for times shown to its people (default from the browser at sign-up,
Europe/Moscow for a Russian one); user_sessions.user_agent: the sessions list names the browser and system.
Existing Russian accounts get Europe/Moscow, the rest UTC (what they saw until now).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 21:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=False, server_default="UTC"))
    op.execute("UPDATE users SET time_zone = 'Europe/Moscow' WHERE locale = 'ru'")
    op.add_column("user_sessions", sa.Column("user_agent", sa.String(length=255), nullable=False,
                                             server_default=""))


def downgrade() -> None:
    op.drop_column("user_sessions", "user_agent")
    op.drop_column("users", "time_zone")
