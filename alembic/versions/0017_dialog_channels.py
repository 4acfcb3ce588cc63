"""dialogs.channel: every channel a conversation can come from ("telegram" | "web" | "playground" |
"business"), checked by the database; existing rows without one become "telegram" (the only channel
before the playground was stored); an index for the inbox's and analytics' split by channel

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:15:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("telegram", "web", "playground", "business")


def upgrade() -> None:
    op.execute("UPDATE dialogs SET channel = 'telegram' WHERE channel IS NULL OR channel NOT IN "
               "('telegram', 'web', 'playground', 'business')")
    op.execute("ALTER TABLE dialogs ALTER COLUMN channel SET DEFAULT 'telegram'")
    op.create_check_constraint("ck_dialogs_channel", "dialogs",
                               "channel IN ('telegram', 'web', 'playground', 'business')")
    op.create_index("ix_dialogs_owner_channel_last", "dialogs", ["owner_id", "channel", "last_message_at"])


def downgrade() -> None:
    op.drop_index("ix_dialogs_owner_channel_last", table_name="dialogs")
    op.drop_constraint("ck_dialogs_channel", "dialogs", type_="check")
    op.execute("ALTER TABLE dialogs ALTER COLUMN channel DROP DEFAULT")
