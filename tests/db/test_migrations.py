import sqlalchemy as sa

from chatai.db import migrate
from chatai.db.session import get_engine


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate._config()).get_current_head()


def _tables() -> set[str]:
    return set(sa.inspect(get_engine()).get_table_names())


def test_migrations_downgrade_to_empty_and_upgrade_back(db):
    db.close()
    assert migrate.current_revision() == _head()
    assert {"users", "chunks", "ledger_entries", "bots"} <= _tables()
    migrate.downgrade("base")
    assert _tables() <= {"alembic_version"}
    with get_engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_extension WHERE extname='vector'").scalar() == 0
    migrate.upgrade()
    assert migrate.current_revision() == _head()
    with get_engine().connect() as conn:
        names = {r[0] for r in conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename='chunks'")}
    assert {"ix_chunks_embedding_384", "ix_chunks_embedding_1536", "ix_chunks_tsv"} <= names


def test_ledger_rows_cannot_be_rewritten(db):
    """As the app: no privilege to (tests/db/test_app_role.py). As the owner: the triggers refuse."""
    import uuid

    import pytest

    from chatai.db.models import User
    from chatai.db.money_models import LedgerEntry
    from chatai.db.session import get_owner_engine

    user = User(email="a@x.io", password_hash="x")
    db.add(user)
    db.commit()
    db.add(LedgerEntry(account_id=user.id, amount_micros=5, kind="topup", idempotency_key=str(uuid.uuid4()),
                       balance_after_micros=5))
    db.commit()
    with pytest.raises(sa.exc.DBAPIError, match="permission denied for table ledger_entries"):
        db.exec(sa.text("UPDATE ledger_entries SET amount_micros = 500"))
    db.rollback()
    for statement in ("UPDATE ledger_entries SET amount_micros = 500", "DELETE FROM ledger_entries",
                      "TRUNCATE ledger_entries"):
        with get_owner_engine().connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.exec_driver_sql(statement)
