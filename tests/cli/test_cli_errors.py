"""Expected failures of the command line: one line on stderr, exit code 1, never a traceback."""

import os
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from chatai.db.models import Assistant, User
from chatai.settings import PROJECT_ROOT, get_settings


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_ids_unknown_emails_and_missing_files_are_one_line(db, tmp_path):
    owner = User(email="owner@example.com", password_hash="-")
    db.add(owner)
    db.commit()
    assistant = Assistant(owner_id=owner.id, name="Support")
    db.add(assistant)
    db.commit()
    ghost_id = str(uuid.uuid4())
    commands = {
        ("kb", "search", "--assistant", "not-an-id", "q"): "not an assistant id",
        ("kb", "search", "--assistant", ghost_id, "q"): "no assistant",
        ("kb", "ingest", "--assistant", str(assistant.id), str(tmp_path / "missing.pdf")): "missing.pdf",
        ("ask", "--assistant", ghost_id, "hello"): "no assistant",
        ("bots", "connect", "--assistant", "42", "--token", "1:x"): "UUID",
        ("dialogs", "show", "nope"): "not a dialog id",
        ("dialogs", "show", ghost_id): "no dialog",
        ("dialogs", "list", "--owner", "ghost@example.com"): "ghost@example.com",
        ("billing", "balance", "--email", "ghost@example.com"): "ghost@example.com",
        ("users", "reset-password", "--email", "ghost@example.com", "--password", "a long new passphrase"):
            "no account",
        ("assistants", "create", "--owner", "ghost@example.com", "--name", "X"): "ghost@example.com",
        ("db", "restore", str(tmp_path / "nope.dump")): "nope.dump",
        ("db", "backup", "--dest", "/proc/no/such/folder"): "/proc/no",
    }
    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(commands, pool.map(lambda args: cli(*args), commands), strict=True))
    for args, expected in commands.items():
        assert expected in one_line_error(results[args]), args


def test_database_down_is_one_line_naming_it():
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_free_port()}/chatai",
           "DATABASE_OWNER_URL": ""}
    line = one_line_error(cli("users", "create", "--email", "a@example.com", "--password", "copper kettle 91", env=env))
    assert "Cannot reach the database" in line
    line = one_line_error(cli("db", "upgrade", env=env))
    assert "Cannot reach the database" in line


def test_external_database_without_schema_names_db_upgrade():
    """An external database is not migrated behind its owner's back: the command says what to run."""
    from chatai.embedded import postgres_url

    name = f"empty_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url(get_settings().pg_data_dir), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        env = {**os.environ, "DATABASE_URL": postgres_url(get_settings().pg_data_dir, name), "DATABASE_OWNER_URL": ""}
        line = one_line_error(cli("users", "create", "--email", "a@example.com", "--password",
                                  "correct horse battery", env=env))
        assert "has no ChatAI tables yet" in line and "python -m chatai db upgrade" in line
        upgraded = cli("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        created = cli("users", "create", "--email", "a@example.com", "--password", "correct horse battery",
                      env=env)
        assert created.returncode == 0, created.stderr
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
