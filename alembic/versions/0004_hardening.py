"""hardening (bot event log, failed updates, encrypted webhook secrets)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'bot_events',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('bot_id', sa.Uuid(), nullable=False),
        sa.Column('owner_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_bot_events_bot_created', 'bot_events', ['bot_id', 'created_at'], unique=False)
    # Webhook secrets are encrypted like tokens: widen the column, then encrypt the rows stored in clear.
    op.alter_column('bots', 'webhook_secret', type_=sa.Text(), existing_type=sa.String(length=64),
                    existing_nullable=False)
    _rewrite_secrets(encrypt=True)


def downgrade() -> None:
    _rewrite_secrets(encrypt=False)
    op.alter_column('bots', 'webhook_secret', type_=sqlmodel.sql.sqltypes.AutoString(length=64),
                    existing_type=sa.Text(), existing_nullable=False)
    op.drop_index('ix_bot_events_bot_created', table_name='bot_events')
    op.drop_table('bot_events')


def _rewrite_secrets(*, encrypt: bool) -> None:
    """Encrypt (or, going down, decrypt) every stored webhook secret with the app's secret key. Going down, a
    secret that cannot be decrypted (SECRET_KEY changed) is emptied: its webhook refuses deliveries until the
    bot is connected again."""
    from chatai.security import decrypt_secret, encrypt_secret

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, webhook_secret FROM bots WHERE webhook_secret <> ''")).all()
    for bot_id, value in rows:
        if encrypt:
            new = encrypt_secret(value)
        else:
            try:
                new = decrypt_secret(value)
            except ValueError:
                new = ''
        conn.execute(sa.text("UPDATE bots SET webhook_secret = :v WHERE id = :id"), {"v": new, "id": bot_id})
