"""admin: append-only audit log, sort keys for the admin user list (user_activity, kept by triggers)

The audit log becomes append-only like the ledger: a trigger refuses UPDATE and DELETE. A user with audit
rows can therefore not be deleted (the actor FK's SET NULL is an UPDATE); nothing deletes users, and the
ledger's RESTRICT already keeps every owner anyway.

user_activity holds, per user, the total spend (committed charges) and the last activity (a session
created or seen), written by triggers in the same transaction as the ledger row / session, so the admin
list can sort and page 100k users by them with an index instead of aggregating the ledger per request.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 23:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_audit_log_target', 'audit_log', ['target_type', 'target_id', 'created_at'], unique=False)
    op.execute("""
        CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only';
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_immutable()
    """)

    op.create_table(
        'user_activity',
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('spent_micros', sa.BigInteger(), nullable=False),
        sa.Column('last_active_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_index('ix_user_activity_spent', 'user_activity', ['spent_micros', 'user_id'], unique=False)
    op.create_index('ix_user_activity_last_active', 'user_activity', ['last_active_at', 'user_id'], unique=False)
    op.execute("""
        INSERT INTO user_activity (user_id, spent_micros, last_active_at)
        SELECT u.id,
               coalesce((SELECT -sum(l.amount_micros) FROM ledger_entries l
                         WHERE l.account_id = u.id AND l.kind = 'commit'), 0),
               greatest(u.created_at, coalesce((SELECT max(s.last_seen_at) FROM user_sessions s
                                                WHERE s.user_id = u.id), u.created_at))
        FROM users u
    """)
    op.execute("""
        CREATE FUNCTION user_activity_on_user() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO user_activity (user_id, spent_micros, last_active_at)
            VALUES (NEW.id, 0, NEW.created_at) ON CONFLICT (user_id) DO NOTHING;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER user_activity_user_insert AFTER INSERT ON users
        FOR EACH ROW EXECUTE FUNCTION user_activity_on_user()
    """)
    op.execute("""
        CREATE FUNCTION user_activity_on_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE user_activity SET spent_micros = spent_micros - NEW.amount_micros WHERE user_id = NEW.account_id;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER user_activity_ledger_commit AFTER INSERT ON ledger_entries
        FOR EACH ROW WHEN (NEW.kind = 'commit' AND NEW.amount_micros <> 0)
        EXECUTE FUNCTION user_activity_on_commit()
    """)
    op.execute("""
        CREATE FUNCTION user_activity_on_session() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE user_activity SET last_active_at = NEW.last_seen_at
            WHERE user_id = NEW.user_id AND last_active_at < NEW.last_seen_at;
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER user_activity_session_seen AFTER INSERT OR UPDATE OF last_seen_at ON user_sessions
        FOR EACH ROW EXECUTE FUNCTION user_activity_on_session()
    """)

    # The admin list: search by any part of the email, keyset pages by sign-up and by balance.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_users_email_trgm ON users USING gin (email gin_trgm_ops)")
    op.create_index('ix_users_created_id', 'users', ['created_at', 'id'], unique=False)
    op.create_index('ix_billing_accounts_balance_user', 'billing_accounts', ['balance_micros', 'user_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_billing_accounts_balance_user', table_name='billing_accounts')
    op.drop_index('ix_users_created_id', table_name='users')
    op.execute("DROP INDEX IF EXISTS ix_users_email_trgm")
    op.execute("DROP TRIGGER IF EXISTS user_activity_session_seen ON user_sessions")
    op.execute("DROP FUNCTION IF EXISTS user_activity_on_session()")
    op.execute("DROP TRIGGER IF EXISTS user_activity_ledger_commit ON ledger_entries")
    op.execute("DROP FUNCTION IF EXISTS user_activity_on_commit()")
    op.execute("DROP TRIGGER IF EXISTS user_activity_user_insert ON users")
    op.execute("DROP FUNCTION IF EXISTS user_activity_on_user()")
    op.drop_index('ix_user_activity_last_active', table_name='user_activity')
    op.drop_index('ix_user_activity_spent', table_name='user_activity')
    op.drop_table('user_activity')
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_immutable()")
    op.drop_index('ix_audit_log_target', table_name='audit_log')
