"""The app's database role: what it may do, granted by the role that owns the schema.

The schema's owner (DATABASE_OWNER_URL; the superuser `postgres` of the embedded server) runs migrations,
backups and restores. The app (DATABASE_URL; `chatai_app` on the embedded server) owns nothing: it reads
and writes the working tables, but may only read and append to the audit log and the ledger, and only read
the migration version. Not being the owner, it cannot TRUNCATE, ALTER (disable a trigger), DROP or set
session_replication_role, so the append-only triggers cannot be turned off from the app's connection.

After every migration the owner grants again (`secure_app_role`): tables a new migration adds are covered
twice, by the owner's default privileges at creation and by the grant on all tables afterwards.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

# History: the app may read and add rows, never change or remove one (triggers refuse that even to the owner).
APPEND_ONLY_TABLES = ("audit_log", "ledger_entries")
# Written by migrations only.
READ_ONLY_TABLES = ("alembic_version",)
WORKING_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None


def create_app_role(conn: Connection, role: str) -> bool:
    """Create the app's login role with no powers, when it is missing. True when created here.
    What a DBA does once for an external database (README "Database roles"); the embedded install does it
    by itself."""
    if role_exists(conn, role):
        return False
    # Roles are server-wide: another process may create it at the same moment, which is not an error.
    conn.exec_driver_sql(
        f"DO $$ BEGIN CREATE ROLE {_quote(conn, role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS NOINHERIT; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
    return True


def _existing(conn: Connection, tables: tuple[str, ...]) -> list[str]:
    return [t for t in tables
            if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f"public.{t}"}).scalar() is not None]


def grant_app_role(conn: Connection, role: str) -> None:
    """Give the app's role exactly what it needs in this database, as the owner of the schema. Idempotent."""
    # Concurrent GRANTs on one table can fail with "tuple concurrently updated": one process at a time.
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('chatai:grant-app-role'))"))
    app = _quote(conn, role)
    owner = _quote(conn, conn.execute(sa.text("SELECT current_user")).scalar())
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT"
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {app}",
        f"GRANT {WORKING_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}",
        # Tables and sequences the owner creates later (a new migration) are the app's to use at once.
        f"{defaults} {WORKING_TABLE_PRIVILEGES} ON TABLES TO {app}",
        f"{defaults} USAGE, SELECT ON SEQUENCES TO {app}",
    ]
    for table in _existing(conn, APPEND_ONLY_TABLES):
        statements += [f"REVOKE ALL ON {_quote(conn, table)} FROM {app}",
                       f"GRANT SELECT, INSERT ON {_quote(conn, table)} TO {app}"]
    for table in _existing(conn, READ_ONLY_TABLES):
        statements += [f"REVOKE ALL ON {_quote(conn, table)} FROM {app}",
                       f"GRANT SELECT ON {_quote(conn, table)} TO {app}"]
    for statement in statements:
        conn.exec_driver_sql(statement)


def app_role_problems(conn: Connection, role: str) -> list[str]:
    """Sentences naming every way `role` could still rewrite the books or the schema; empty when none."""
    row = conn.execute(sa.text("SELECT oid, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"),
                       {"r": role}).first()
    if row is None:
        return [f"The database role {role} does not exist."]
    problems = []
    if row.rolsuper:
        problems.append(f"The app's database role {role} is a superuser.")
    if row.rolbypassrls:
        problems.append(f"The app's database role {role} bypasses row security.")
    owned = conn.execute(sa.text(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relowner = :oid"), {"oid": row.oid}).scalar()
    if owned:
        problems.append(f"The app's database role {role} owns {owned} of the schema's tables or other objects.")
    if conn.execute(sa.text("SELECT has_schema_privilege(:r, 'public', 'CREATE')"), {"r": role}).scalar():
        problems.append(f"The app's database role {role} may create tables in the schema public (a database from "
                        "before PostgreSQL 15 lets everyone: REVOKE CREATE ON SCHEMA public FROM PUBLIC).")
    owner = conn.execute(sa.text("SELECT current_user")).scalar()
    if owner != role and conn.execute(sa.text("SELECT pg_has_role(:r, :o, 'MEMBER')"),
                                      {"r": role, "o": owner}).scalar():
        problems.append(f"The app's database role {role} is a member of the owner role {owner}.")
    for table in _existing(conn, APPEND_ONLY_TABLES):
        for privilege in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"):
            if conn.execute(sa.text("SELECT has_table_privilege(:r, :t, :p)"),
                            {"r": role, "t": f"public.{table}", "p": privilege}).scalar():
                problems.append(f"The app's database role {role} may {privilege} {table}.")
    return problems


def app_role_ready(conn: Connection, role: str) -> bool:
    """Whether the grants are in place for every table now in the schema (a cheap check before granting)."""
    if not role_exists(conn, role):
        return False
    missing = conn.execute(sa.text(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT has_table_privilege(:r, c.oid, 'SELECT')"),
        {"r": role}).scalar()
    return missing == 0


def secure_app_role(*, only_when_missing: bool = False) -> str | None:
    """As the owner: create the app's role when the database is embedded, grant it what it needs and check
    that it can do nothing more. Returns the role's name, or None when the app connects as the owner
    (DATABASE_URL without DATABASE_OWNER_URL), which is allowed but leaves the books unprotected."""
    from chatai.db.session import DatabaseMisconfigured, app_role_name, get_owner_engine
    from chatai.settings import get_settings

    role = app_role_name()
    if role is None:
        log.warning("DATABASE_OWNER_URL is not set, so the app's database role owns the schema and could rewrite "
                    "the audit log and the ledger; README \"Database roles\" shows how to split them.")
        return None
    with get_owner_engine().begin() as conn:
        if only_when_missing and app_role_ready(conn, role):
            return role
        if get_settings().embedded_database:
            create_app_role(conn, role)
        elif not role_exists(conn, role):
            raise DatabaseMisconfigured(
                f"The database role {role} named in DATABASE_URL does not exist: create it as README "
                "\"Database roles\" shows, then run `python -m chatai db upgrade`.")
        grant_app_role(conn, role)
        problems = app_role_problems(conn, role)
    if problems:
        raise DatabaseMisconfigured(" ".join(problems) + " The app must connect as a role that owns nothing "
                                    "(README \"Database roles\").")
    return role
