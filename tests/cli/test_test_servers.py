"""`make test` must not leave its PostgreSQL running: the last pytest run that ends stops it, and a run
still going keeps it (runs share the server on purpose, each with its own database)."""

import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from chatai.settings import PROJECT_ROOT


@pytest.fixture
def servers_dir():
    from chatai.embedded import stop_postgres, wipe

    folder = PROJECT_ROOT / ".data" / f"test-servers-{uuid.uuid4().hex[:8]}"
    yield folder
    stop_postgres(folder / "postgres")
    wipe(folder)


def run_pytest_session(servers_dir) -> subprocess.CompletedProcess:
    """A whole pytest session (configure and unconfigure run even when only collecting)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL",
                                                              "CHATAI_DATA_DIR")}
    env["CHATAI_TEST_SERVERS_DIR"] = str(servers_dir)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
                           "tests/test_settings.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_last_run_stops_the_test_postgres(servers_dir):
    from chatai.embedded import postgres_pid

    result = run_pytest_session(servers_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (servers_dir / "postgres" / "PG_VERSION").exists()  # it did run there
    assert postgres_pid(servers_dir / "postgres") is None


def test_a_run_still_going_keeps_the_test_postgres(servers_dir):
    from chatai.embedded import postgres_pid, postgres_url, start_postgres

    start_postgres(servers_dir / "postgres")
    admin = sa.create_engine(postgres_url(servers_dir / "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # the database of a concurrent run: this process is alive
        conn.execute(sa.text(f'CREATE DATABASE "test_{os.getpid()}_other"'))
    admin.dispose()
    result = run_pytest_session(servers_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert postgres_pid(servers_dir / "postgres") is not None
