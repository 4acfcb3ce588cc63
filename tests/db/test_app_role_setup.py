"""How the split of roles is set up, through the real commands: an external database with an owner role and an
app role (README "Database roles"), and an embedded install whose data was created as the superuser before
the split, upgraded in place by its next command."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from chatai.db.roles import app_role_problems
from chatai.db.session import EMBEDDED_APP_ROLE
from chatai.settings import PROJECT_ROOT, get_settings

PASSWORD = "copper kettle 91 winds"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _first_refusal(url: str, statements: list[str]) -> str:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    except sa.exc.DBAPIError as exc:
        return str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()
    raise AssertionError(f"not refused: {statements}")


def _scalar(url: str, query: str, **params) -> object:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar()
    finally:
        engine.dispose()


def _assert_books_safe(app_url: str, owner_url: str, role: str) -> None:
    for table in ("audit_log", "ledger_entries"):
        assert _first_refusal(app_url, [f"TRUNCATE {table} CASCADE"]) == f"permission denied for table {table}"
        assert _first_refusal(app_url, [f"ALTER TABLE {table} DISABLE TRIGGER ALL"]) == \
            f"must be owner of table {table}"
    assert _first_refusal(app_url, ["SET session_replication_role = replica"]) == \
        'permission denied to set parameter "session_replication_role"'
    engine = sa.create_engine(owner_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert app_role_problems(conn, role) == []
    finally:
        engine.dispose()


@pytest.fixture
def external_database():
    """A database owned by a plain login role (no superuser), pgvector created by the superuser as a DBA would,
    and an app role with nothing but LOGIN: README "Database roles", step by step."""
    from chatai.embedded import postgres_url

    pgdata = get_settings().pg_data_dir
    suffix = uuid.uuid4().hex[:8]
    owner, app, name = f"ext_owner_{suffix}", f"ext_app_{suffix}", f"ext_{suffix}"
    admin = sa.create_engine(postgres_url(pgdata), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {owner} LOGIN")
        conn.exec_driver_sql(f"CREATE ROLE {app} LOGIN")
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER {owner}')
    dba = sa.create_engine(postgres_url(pgdata, name), isolation_level="AUTOCOMMIT")
    with dba.connect() as conn:
        conn.exec_driver_sql("CREATE EXTENSION vector")
    dba.dispose()
    try:
        yield {"owner": owner, "app": app, "DATABASE_OWNER_URL": postgres_url(pgdata, name, user=owner),
               "DATABASE_URL": postgres_url(pgdata, name, user=app)}
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {app}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {owner}")
        admin.dispose()


def test_external_database_with_an_owner_role_and_an_app_role(external_database, tmp_path):
    urls = {k: v for k, v in external_database.items() if k.startswith("DATABASE_")}
    env = {**os.environ, **urls}
    owner_url, app_url, app = urls["DATABASE_OWNER_URL"], urls["DATABASE_URL"], external_database["app"]

    # The app's role cannot migrate: a command says what to run, and the owner's `db upgrade` does it.
    refused = _cli(env, "users", "create", "--email", "a@example.com", "--password", PASSWORD)
    assert refused.returncode == 1 and "has no ChatAI tables yet" in refused.stderr, refused.stderr
    _ok(_cli(env, "db", "upgrade"))
    _ok(_cli(env, "users", "create", "--email", "a@example.com", "--password", PASSWORD))
    _ok(_cli(env, "billing", "adjust", "--email", "a@example.com", "--amount", "100", "--reason", "test credit"))

    assert _scalar(app_url, "SELECT current_user") == app
    assert _scalar(owner_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = :o",
                   o=external_database["owner"]) > 20
    assert _scalar(owner_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :o",
                   o=external_database["owner"]) == 0
    _assert_books_safe(app_url, owner_url, app)

    # Backup and restore run as the owner; the restored tables are granted to the app again.
    dump = Path(_ok(_cli(env, "db", "backup", "--dest", str(tmp_path))).stdout.strip().splitlines()[-1])
    _ok(_cli(env, "db", "restore", str(dump)))
    assert _scalar(app_url, "SELECT count(*) FROM ledger_entries") == 2  # the welcome credit and the adjustment
    _ok(_cli(env, "billing", "check"))
    _assert_books_safe(app_url, owner_url, app)

    # A grant taken away by hand: the command says so in one line, and the owner's `db upgrade` puts it back.
    engine = sa.create_engine(owner_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"REVOKE ALL ON users FROM {app}")
    engine.dispose()
    result = _cli(env, "users", "create", "--email", "b@example.com", "--password", PASSWORD)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: The app's database role may not do this (permission denied for table users): run `python -m chatai "
        "db upgrade` with DATABASE_OWNER_URL set, so that the schema's owner grants it (README \"Database roles\").")
    _ok(_cli(env, "db", "upgrade"))
    _ok(_cli(env, "users", "create", "--email", "b@example.com", "--password", PASSWORD))

    # An app role that could act as the owner (the DBA made it a member) is refused, the reason named.
    from chatai.embedded import postgres_url

    owner = external_database["owner"]
    engine = sa.create_engine(postgres_url(get_settings().pg_data_dir), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"GRANT {owner} TO {app}")
    result = _cli(env, "db", "upgrade")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"REVOKE {owner} FROM {app}")
    engine.dispose()
    assert result.returncode == 1, result.stdout + result.stderr
    line = result.stderr.strip().splitlines()[-1]
    # Membership brings the owner's powers, each named.
    for reason in (f"is a member of the owner role {owner}.", "may TRUNCATE ledger_entries.", "may UPDATE audit_log.",
                   "may create tables in the schema public"):
        assert f"The app's database role {app} {reason}" in line, line
    assert line.endswith("The app must connect as a role that owns nothing (README \"Database roles\").")

    # An app role the DBA has not created yet is named, in one line.
    missing = {**env, "DATABASE_URL": app_url.replace(f"{app}:@", "ext_nobody:@")}
    result = _cli(missing, "db", "upgrade")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: The database role ext_nobody named in DATABASE_URL does not exist: create it as README "
        "\"Database roles\" shows, then run `python -m chatai db upgrade`.")


def test_owner_and_app_urls_must_name_one_database(external_database):
    env = {**os.environ, "DATABASE_URL": external_database["DATABASE_URL"],
           "DATABASE_OWNER_URL": external_database["DATABASE_OWNER_URL"].replace("/ext_", "/other_")}
    result = _cli(env, "db", "upgrade")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == ("error: DATABASE_OWNER_URL and DATABASE_URL name different "
                                                      "databases: they must differ only in the user and password.")


def test_an_embedded_install_from_before_the_split_is_upgraded_in_place():
    """Data created by the superuser at revision 0012 (as every embedded install was): the next command
    migrates, creates the app's role, grants it, and runs as it; the old books are intact and safe."""
    from alembic.script import ScriptDirectory

    from alembic import command
    from chatai.db import migrate
    from chatai.embedded import postgres_url, start_postgres, stop_postgres, stop_redis, wipe

    data = PROJECT_ROOT / ".data" / f"pre-split-{uuid.uuid4().hex[:8]}"
    pgdata = data / "postgres"
    start_postgres(pgdata)
    try:
        superuser = postgres_url(pgdata)
        config = migrate._config()
        config.attributes["database_url"] = superuser
        command.upgrade(config, "0012")
        with sa.create_engine(superuser, poolclass=sa.pool.NullPool).begin() as conn:
            user_id = conn.execute(sa.text(
                "INSERT INTO users (id, email, password_hash, role, locale, blocked, password_changed_at, created_at) "
                "VALUES (gen_random_uuid(), 'old@example.com', 'x', 'owner', 'en', false, now(), now()) RETURNING id"
            )).scalar()
            conn.execute(sa.text("INSERT INTO ledger_entries (id, account_id, amount_micros, kind, idempotency_key, "
                                 "balance_after_micros, reference, created_at) "
                                 "VALUES (gen_random_uuid(), :u, 7, 'topup', 'k1', 7, '', now())"), {"u": user_id})
        assert _scalar(superuser, "SELECT count(*) FROM pg_roles WHERE rolname = :r", r=EMBEDDED_APP_ROLE) == 0

        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")}
        env["CHATAI_DATA_DIR"] = str(data)
        result = _ok(_cli(env, "users", "create", "--email", "new@example.com", "--password", PASSWORD))
        assert "Applying database migrations..." in result.stderr

        app_url = postgres_url(pgdata, user=EMBEDDED_APP_ROLE)
        head = ScriptDirectory.from_config(config).get_current_head()
        assert _scalar(superuser, "SELECT version_num FROM alembic_version") == head
        assert _scalar(app_url, "SELECT current_user") == EMBEDDED_APP_ROLE
        assert _scalar(app_url, "SELECT count(*) FROM users") == 2
        assert _scalar(app_url, "SELECT sum(amount_micros) FROM ledger_entries WHERE idempotency_key = 'k1'") == 7
        _assert_books_safe(app_url, superuser, EMBEDDED_APP_ROLE)
    finally:
        stop_redis(data / "redis")
        stop_postgres(pgdata)
        wipe(data)
