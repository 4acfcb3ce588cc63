"""inbox and handoff

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same english || russian expression as chunks.tsv (chatai.db.models.TSV_EXPRESSION), as an
# expression index: message search needs no stored column on the hottest table.
MESSAGES_TSV = "(to_tsvector('english', text) || to_tsvector('russian', text))"


def upgrade() -> None:
    # Existing conversations count as read: the inbox starts with no backlog of "unread".
    op.add_column('dialogs', sa.Column('owner_read_at', sa.DateTime(timezone=True), nullable=False,
                                       server_default=sa.text("'1970-01-01 00:00:00+00'")))
    op.execute("UPDATE dialogs SET owner_read_at = last_message_at")
    op.execute(f"CREATE INDEX ix_messages_tsv ON messages USING gin ({MESSAGES_TSV})")
    # Only dialogs with activity after the owner last read them: the sidebar's unread total reads these.
    op.execute("CREATE INDEX ix_dialogs_owner_unread ON dialogs (owner_id) WHERE last_message_at > owner_read_at")
    # Status filter ("waiting") with keyset order, without walking every dialog of the owner.
    op.execute("CREATE INDEX ix_dialogs_owner_status_last ON dialogs (owner_id, status, last_message_at DESC, id DESC)")
    # Analytics read a period's messages index-only (1M messages: seconds by table scan, ~0.1 s this way);
    # handoff notices are few and need their text, so they get a small partial index of their own.
    op.execute("CREATE INDEX ix_messages_created_cover ON messages (created_at) "
               "INCLUDE (dialog_id, role, answered_by, latency_ms)")
    op.execute("CREATE INDEX ix_messages_system ON messages (created_at) INCLUDE (dialog_id, text) "
               "WHERE role = 'system'")


def downgrade() -> None:
    op.drop_index('ix_messages_system', table_name='messages')
    op.drop_index('ix_messages_created_cover', table_name='messages')
    op.drop_index('ix_dialogs_owner_status_last', table_name='dialogs')
    op.drop_index('ix_dialogs_owner_unread', table_name='dialogs')
    op.drop_index('ix_messages_tsv', table_name='messages')
    op.drop_column('dialogs', 'owner_read_at')
