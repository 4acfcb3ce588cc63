"""Test infrastructure: a real PostgreSQL (embedded, with pgvector) and a real Redis.

One PostgreSQL per machine under .data/test-servers (warm start ~0.1 s) with a fresh database per
run, stopped by the last run that ends; a Redis per run; every table truncated before each test
that asks for `db`. The code under test connects as the app's role (`chatai_app`: owns nothing, may only
read and append to the books), as in production; migrations and the truncation between tests run as the
superuser `postgres`, which owns the schema (DATABASE_OWNER_URL).
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest_plugins = ["tests.hang_report"]

ROOT = Path(__file__).resolve().parent.parent
# Overridable so that a test can run a pytest session of its own against servers of its own.
TEST_DATA = Path(os.environ.get("CHATAI_TEST_SERVERS_DIR") or ROOT / ".data" / "test-servers")
RUN_DB = f"test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
RUN_REDIS_DIR = Path("/tmp") / f"chatai-test-redis-{RUN_DB}"  # short: unix socket paths are limited

# Settings are read from the environment: point every process of the run at the test servers
# before anything imports chatai.settings.
os.environ["CHATAI_DATA_DIR"] = str(TEST_DATA)
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)


def _pid_alive(database: str) -> bool:
    try:
        os.kill(int(database.split("_")[1]), 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _servers_lock() -> Iterator[None]:
    """Concurrent runs share the test PostgreSQL: one run's "start and create my database" and another's
    "nobody else uses it: stop it" must not interleave."""
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    with open(TEST_DATA / "servers.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pytest_configure(config: pytest.Config) -> None:
    from chatai.db.roles import create_app_role
    from chatai.db.session import EMBEDDED_APP_ROLE
    from chatai.embedded import postgres_url, redis_url, start_postgres, start_redis
    from chatai.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    # A Redis of this run's own: tests flush it, and concurrent runs must not flush each other's.
    start_redis(RUN_REDIS_DIR, RUN_REDIS_DIR / "redis.sock")

    import sqlalchemy as sa

    with _servers_lock():
        start_postgres(settings.pg_data_dir)
        admin = sa.create_engine(postgres_url(settings.pg_data_dir), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            # Databases left by crashed runs (their pid is gone); concurrent runs keep theirs.
            for (name,) in conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'test_%'")):
                if not _pid_alive(name):
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{RUN_DB}"'))
            # What README "Database roles" has a DBA do once per server; `upgrade` below grants it.
            create_app_role(conn, EMBEDDED_APP_ROLE)
        admin.dispose()

    os.environ["DATABASE_URL"] = postgres_url(settings.pg_data_dir, RUN_DB, user=EMBEDDED_APP_ROLE)
    os.environ["DATABASE_OWNER_URL"] = postgres_url(settings.pg_data_dir, RUN_DB)
    os.environ["REDIS_URL"] = redis_url(RUN_REDIS_DIR / "redis.sock")
    get_settings.cache_clear()

    from chatai.db.migrate import upgrade

    upgrade()


def pytest_unconfigure(config: pytest.Config) -> None:
    import sqlalchemy as sa

    from chatai.db.session import reset_engines
    from chatai.embedded import postgres_url, stop_postgres, stop_redis, wipe
    from chatai.settings import get_settings

    reset_engines()
    stop_redis(RUN_REDIS_DIR)
    wipe(RUN_REDIS_DIR)
    pg_data_dir = get_settings().pg_data_dir
    with _servers_lock():
        url = postgres_url(pg_data_dir)
        if not url:
            return
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)'))
            names = [name for (name,) in conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'test_%'"))]
        admin.dispose()
        # The last run out stops the server (`make test` must not leave it behind); a run still going
        # keeps it. A crashed run's database does not count: its pid is gone.
        if not any(_pid_alive(name) for name in names):
            stop_postgres(pg_data_dir)


@pytest.fixture
def db():
    """A clean database and Redis for this test; yields a sync SQLModel session."""
    import redis as sync_redis
    from sqlmodel import SQLModel

    from chatai.cache import redis_url, reset_redis
    from chatai.db.session import get_owner_engine, reset_engines, session_scope

    reset_engines()
    reset_redis()
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with get_owner_engine().begin() as conn:
        # Only the owner (a superuser here) can reset the books: the app's role may not TRUNCATE them, and
        # their BEFORE TRUNCATE triggers stay quiet only for a session replaying as a replica.
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        # A task an earlier test left suspended (its event loop closed mid-query) holds its connection idle in
        # a transaction forever, and its locks would make TRUNCATE wait forever: end those sessions first.
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'")
        conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
    client = sync_redis.Redis.from_url(redis_url())
    client.flushdb()
    client.close()
    with session_scope() as session:
        yield session
    reset_engines()
    reset_redis()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: sync Playwright keeps an event loop running in the main thread for the
    rest of the session, where pytest-asyncio could no longer start one."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))
