"""Waiting for the servers a process needs before it starts (systemd's ExecStartPre).

At boot, or when the database machine restarts, the app's unit may start before PostgreSQL or Redis
accept connections. Without a wait the first command fails, systemd restarts it a few times and gives up
(StartLimitBurst). `wait_for_servers` retries once a second, prints one plain line per retry (the journal
shows what it waits for) and fails with one line when the time is up: the caller exits non-zero, no
traceback.
"""

from __future__ import annotations

import sys
import time

from chatai.cli_support import fail

RETRY_SECONDS = 1.0


def _first_line(value: object) -> str:
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(value).__name__


def database_problem(*, connect_timeout: int, as_owner: bool = False) -> str | None:
    """Why the database cannot be used now, or None when it answers a query: as the app's role, or as the
    schema's owner for a process about to migrate (the app's role may only exist after that)."""
    import sqlalchemy as sa
    import sqlalchemy.exc
    from sqlalchemy.pool import NullPool

    from chatai.db.session import DatabaseUnavailable, database_url, owner_database_url

    try:
        # A throwaway engine: the process's shared one would keep a connection from before a restart.
        engine = sa.create_engine(owner_database_url() if as_owner else database_url(), poolclass=NullPool,
                                  connect_args={"connect_timeout": connect_timeout})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
    except DatabaseUnavailable as exc:
        return str(exc)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        return _first_line(exc.orig)
    return None


def redis_problem(*, connect_timeout: int) -> str | None:
    """Why Redis cannot be used now (only when REDIS_URL is set: embedded Redis is started by the CLI)."""
    import redis
    import redis.exceptions

    from chatai.settings import get_settings

    url = get_settings().redis_url
    if not url:
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        return _first_line(exc)
    except redis.exceptions.ResponseError as exc:  # e.g. NOAUTH: up, but this URL cannot use it
        return _first_line(exc)
    finally:
        client.close()
    return None


def schema_problem() -> str | None:
    """None when the database is at this release's migration head (another process migrates it)."""
    from chatai.cli_support import _schema_revisions

    current, heads = _schema_revisions()
    if current == heads:
        return None
    if not current:
        return "the database has no ChatAI tables yet"
    return f"the database is at revision {', '.join(sorted(current))}, this release needs {', '.join(sorted(heads))}"


def _first_problem(*, connect_timeout: int, schema: bool, as_owner: bool) -> tuple[str, str] | None:
    """(what, why) for the first server not ready, in the order they are needed."""
    reason = database_problem(connect_timeout=connect_timeout, as_owner=as_owner)
    if reason is not None:
        return "the database", reason
    reason = redis_problem(connect_timeout=connect_timeout)
    if reason is not None:
        return "Redis", reason
    reason = schema_problem() if schema else None
    return ("the schema", reason) if reason is not None else None


def wait_for_servers(*, timeout: float, schema: bool = False, as_owner: bool = False) -> float:
    """Block until the database (and Redis, when REDIS_URL is set) answer, and with `schema` until the
    schema is current. Returns the seconds waited; fails with one line after `timeout` seconds. `as_owner`:
    connect as the schema's owner (a migration comes next) instead of the app's role."""
    started = time.monotonic()
    deadline = started + timeout
    attempt = 0
    while True:
        attempt += 1
        left = deadline - time.monotonic()
        # libpq treats a connect timeout under 2 s as 2 s; never wait past the deadline by much more.
        connect_timeout = int(max(2, min(5, left)))
        problem = _first_problem(connect_timeout=connect_timeout, schema=schema, as_owner=as_owner)
        if problem is None:
            return time.monotonic() - started
        what, reason = problem
        left = deadline - time.monotonic()
        if left <= 0:
            fail(f"gave up waiting for {what} after {timeout:g} s: {reason}")
        print(f"waiting for {what} (attempt {attempt}, {left:.0f} s left): {reason}", file=sys.stderr, flush=True)
        time.sleep(min(RETRY_SECONDS, left))
