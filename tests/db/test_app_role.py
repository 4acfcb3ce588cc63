"""The app's database role cannot rewrite the books: every known way of doing it is refused by PostgreSQL, by
name, while the app's normal work goes on as that role. The test run's app connects as `chatai_app`, the
schema belongs to `postgres` (tests/conftest.py), as on an embedded install."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from chatai.db.models import AuditLog, User
from chatai.db.money_models import LedgerEntry
from chatai.db.roles import APPEND_ONLY_TABLES, app_role_problems, secure_app_role
from chatai.db.session import EMBEDDED_APP_ROLE, async_session, get_engine, get_owner_engine
from chatai.services import accounts, assistants, audit, billing

PASSWORD = "copper kettle 91 winds"


def _fill_books(db) -> uuid.UUID:
    """One owner with a ledger row and an audit row, written as the app's role (the db session is the app's)."""
    user = User(email=f"{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
    db.add(user)
    db.commit()
    db.add(LedgerEntry(account_id=user.id, amount_micros=5, kind="topup", idempotency_key=str(uuid.uuid4()),
                       balance_after_micros=5))
    db.add(AuditLog(actor_id=user.id, action="admin.test", target_type="user", target_id=str(user.id)))
    db.commit()
    return user.id


def _books() -> dict[str, list[tuple]]:
    """Every row of the books, read by the owner (what the attacks must leave exactly as it was)."""
    with get_owner_engine().connect() as conn:
        return {table: sorted(tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
                for table in APPEND_ONLY_TABLES}


def _refused(statements: list[str]) -> str:
    """Run the statements as the app's role in one transaction; the first refusal's message (first line)."""
    with get_engine().connect() as conn:
        try:
            for statement in statements:
                conn.exec_driver_sql(statement)
        except sa.exc.DBAPIError as exc:
            conn.rollback()
            return str(exc.orig).splitlines()[0]
        conn.rollback()
    raise AssertionError(f"not refused: {statements}")


def test_the_app_connects_as_a_role_that_owns_nothing(db):
    with get_engine().connect() as conn:
        me = conn.execute(sa.text("SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolreplication "
                                  "FROM pg_roles WHERE rolname = current_user")).one()
        owned = conn.execute(sa.text("SELECT count(*) FROM pg_class WHERE relowner = "
                                     "(SELECT oid FROM pg_roles WHERE rolname = current_user)")).scalar()
        # Granting itself more is a no-op (PostgreSQL only warns "no privileges were granted").
        conn.exec_driver_sql(f"GRANT UPDATE, DELETE, TRUNCATE ON audit_log, ledger_entries TO {EMBEDDED_APP_ROLE}")
        conn.commit()
    assert me == (EMBEDDED_APP_ROLE, False, False, False, False)
    assert owned == 0
    with get_owner_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "postgres"
        assert app_role_problems(conn, EMBEDDED_APP_ROLE) == []
        # The books: read and append, nothing else; the migration version: read only.
        privileges = {table: [p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
                              if conn.execute(sa.text("SELECT has_table_privilege(:r, :t, :p)"),
                                              {"r": EMBEDDED_APP_ROLE, "t": table, "p": p}).scalar()]
                      for table in (*APPEND_ONLY_TABLES, "alembic_version", "users")}
    assert privileges == {"audit_log": ["SELECT", "INSERT"], "ledger_entries": ["SELECT", "INSERT"],
                          "alembic_version": ["SELECT"], "users": ["SELECT", "INSERT", "UPDATE", "DELETE"]}


# The four rewrites the outside probe made as the app's user, for each of the books, with PostgreSQL's refusal.
ATTACKS = {
    "truncate": (["TRUNCATE {table}"], "permission denied for table {table}"),
    "truncate cascade": (["TRUNCATE {table} CASCADE"], "permission denied for table {table}"),
    "replica role, then delete": (["SET session_replication_role = replica", "DELETE FROM {table}"],
                                  'permission denied to set parameter "session_replication_role"'),
    "disable trigger, then update": (["ALTER TABLE {table} DISABLE TRIGGER ALL", "UPDATE {table} SET id = id"],
                                     "must be owner of table {table}"),
}


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("attack", ATTACKS)
def test_each_rewrite_of_the_books_is_refused_to_the_app(db, attack, table):
    _fill_books(db)
    before = _books()
    statements, refusal = ATTACKS[attack]
    assert _refused([s.format(table=table) for s in statements]) == refusal.format(table=table)
    assert _books() == before and all(before.values())


@pytest.mark.parametrize("statements, refusal", [
    (["UPDATE ledger_entries SET amount_micros = 500"], "permission denied for table ledger_entries"),
    (["DELETE FROM audit_log"], "permission denied for table audit_log"),
    (["TRUNCATE users CASCADE"], "permission denied for table users"),  # would cascade to the ledger
    (["DROP TABLE audit_log"], "must be owner of table audit_log"),
    (["DROP TRIGGER ledger_entries_no_change ON ledger_entries"], "must be owner of relation ledger_entries"),
    (["CREATE TABLE ledger_copy (id int)"], "permission denied for schema public"),
    (["UPDATE alembic_version SET version_num = '0001'"], "permission denied for table alembic_version"),
    (["SET ROLE postgres"], 'permission denied to set role "postgres"'),
    (["SET SESSION AUTHORIZATION postgres"], 'permission denied to set session authorization "postgres"'),
    ([f"ALTER ROLE {EMBEDDED_APP_ROLE} SUPERUSER"], "permission denied to alter role"),
    ([f"ALTER ROLE {EMBEDDED_APP_ROLE} SET session_replication_role = replica"],
     'permission denied to set parameter "session_replication_role"'),
    ([f"ALTER TABLE ledger_entries OWNER TO {EMBEDDED_APP_ROLE}"], "must be owner of table ledger_entries"),
])
def test_other_ways_round_are_refused_too(db, statements, refusal):
    _fill_books(db)
    before = _books()
    assert _refused(statements) == refusal
    assert _books() == before


@pytest.mark.parametrize("statement, tables", [
    ("TRUNCATE audit_log", {"audit_log"}),
    ("TRUNCATE ledger_entries CASCADE", {"ledger_entries"}),
    ("TRUNCATE users CASCADE", {"audit_log", "ledger_entries"}),  # the cascade reaches both books' triggers
    ("UPDATE ledger_entries SET amount_micros = 500", {"ledger_entries"}),
    ("DELETE FROM audit_log", {"audit_log"}),
])
def test_the_triggers_refuse_even_the_owner(db, statement, tables):
    """The second line: a role that may TRUNCATE (the owner) is still stopped by the books' triggers."""
    _fill_books(db)
    before = _books()
    with get_owner_engine().connect() as conn, pytest.raises(sa.exc.DBAPIError) as refused:
        conn.exec_driver_sql(statement)
    assert str(refused.value.orig).splitlines()[0] in {f"{table} is append-only" for table in tables}
    assert _books() == before


async def test_the_apps_normal_work_goes_on_as_its_role(db):
    """Accounts, sessions, the ledger, the audit log, assistants: written, read, changed and deleted through
    the real services, as the app's role."""
    async with async_session() as s:
        assert (await s.execute(sa.text("SELECT current_user"))).scalar() == EMBEDDED_APP_ROLE
        owner = await accounts.create_user(s, email="shop@example.com", password=PASSWORD)
        admin = await accounts.create_user(s, email="boss@example.com", password=PASSWORD, role="admin")
    async with async_session() as s:
        await billing.open_account(s, user_id=owner.id, welcome=True)
        await billing.adjust(s, account_id=owner.id, amount_micros=billing.to_micros("12.50"), reason="goodwill",
                             actor_id=admin.id)
        await s.commit()
    async with async_session() as s:
        token = await accounts.sign_in(s, email="shop@example.com", password=PASSWORD, client="203.0.113.9")
        assistant = await assistants.create_assistant(s, owner_id=owner.id, name="Shop")
        await assistants.update_assistant(s, owner_id=owner.id, assistant_id=assistant.id, name="Shop 2")
        await assistants.delete_assistant(s, owner_id=owner.id, assistant_id=assistant.id)
        await accounts.sign_out(s, token=token)  # deletes the session row
    async with async_session() as s:
        ledger = await billing.list_ledger(s, user_id=owner.id)
        balance = await billing.get_balance(s, user_id=owner.id)
        actions = [row.action for row in await audit.search(s, where=audit.AuditFilter())]
        assert await accounts.user_for_token(s, token) is None
    welcome = billing.to_micros(f"{250.0:.2f}")
    assert sorted((e.kind, e.amount_micros) for e in ledger) == sorted(
        [("welcome", welcome), ("adjustment", billing.to_micros("12.50"))])
    assert balance.balance_micros == welcome + billing.to_micros("12.50")
    assert {"billing.adjust", "assistant.update", "assistant.delete"} <= set(actions)


def test_tables_a_later_migration_adds_are_the_apps_at_once(db):
    """Default privileges: a table (and its sequence) the owner creates is usable by the app with no new grant."""
    with get_owner_engine().begin() as conn:
        conn.exec_driver_sql("CREATE TABLE later_feature (id serial PRIMARY KEY, note text)")
    try:
        with get_engine().begin() as conn:
            conn.exec_driver_sql("INSERT INTO later_feature (note) VALUES ('a'), ('b')")
            conn.exec_driver_sql("UPDATE later_feature SET note = 'c' WHERE note = 'a'")
            conn.exec_driver_sql("DELETE FROM later_feature WHERE note = 'b'")
            assert conn.exec_driver_sql("SELECT id, note FROM later_feature").all() == [(1, "c")]
        assert _refused(["TRUNCATE later_feature"]) == "permission denied for table later_feature"
    finally:
        with get_owner_engine().begin() as conn:
            conn.exec_driver_sql("DROP TABLE later_feature")


def test_a_missing_grant_is_put_back_and_a_powerful_role_is_named(db):
    with get_owner_engine().begin() as conn:
        conn.exec_driver_sql(f"REVOKE SELECT ON users FROM {EMBEDDED_APP_ROLE}")
    assert _refused(["SELECT count(*) FROM users"]) == "permission denied for table users"
    assert secure_app_role(only_when_missing=True) == EMBEDDED_APP_ROLE
    with get_engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM users").scalar() == 0

    # A role that could rewrite the books is refused with every reason named.
    risky = f"risky_{uuid.uuid4().hex[:8]}"
    with get_owner_engine().begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {risky} NOLOGIN")
        conn.exec_driver_sql(f"GRANT UPDATE, TRUNCATE ON ledger_entries TO {risky}")
        conn.exec_driver_sql(f"GRANT CREATE ON SCHEMA public TO {risky}")
        conn.exec_driver_sql(f"CREATE TABLE {risky}_own (id int)")
        conn.exec_driver_sql(f"ALTER TABLE {risky}_own OWNER TO {risky}")
        try:
            assert app_role_problems(conn, risky) == [
                f"The app's database role {risky} owns 1 of the schema's tables or other objects.",
                f"The app's database role {risky} may create tables in the schema public (a database from before "
                "PostgreSQL 15 lets everyone: REVOKE CREATE ON SCHEMA public FROM PUBLIC).",
                f"The app's database role {risky} may UPDATE ledger_entries.",
                f"The app's database role {risky} may TRUNCATE ledger_entries.",
            ]
        finally:
            conn.exec_driver_sql(f"DROP TABLE {risky}_own")
            conn.exec_driver_sql(f"REVOKE ALL ON ledger_entries FROM {risky}")
            conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA public FROM {risky}")
            conn.exec_driver_sql(f"DROP ROLE {risky}")
