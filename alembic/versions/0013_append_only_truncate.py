"""append-only books refuse TRUNCATE too: a statement trigger on audit_log and ledger_entries

The row triggers (0001, 0010) refuse UPDATE and DELETE, but TRUNCATE fires no row trigger. The app's role
may not TRUNCATE these tables at all (chatai/db/roles.py); this is the second line, for any other role
that could (the owner included). A TRUNCATE of a table that cascades to one of them is refused as well.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 18:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the function its row trigger already uses ("<table> is append-only")
BOOKS = {"audit_log": "audit_log_immutable", "ledger_entries": "ledger_entries_immutable"}


def upgrade() -> None:
    for table, function in BOOKS.items():
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")


def downgrade() -> None:
    for table in BOOKS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
