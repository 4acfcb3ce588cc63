"""The units' prestart steps (deploy/chatai-web.service, deploy/chatai-bots@.service), run as written there:
they wait for a database that is down when they start and comes up a few seconds later, the web one
migrates it and the runner's waits for that schema; a database that never comes up ends the wait with one
line and a non-zero exit within its timeout. A stand-in embedded PostgreSQL in a folder of its own (under
the project's .data: as root its service user must reach it) plays the external database.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatai.settings import PROJECT_ROOT

UNIT_PYTHON = "/opt/chatai/.venv/bin/python"


def _prestart(unit: str) -> list[str]:
    """The unit's ExecStartPre command, with this checkout's Python in place of the install's."""
    lines = [line.split("=", 1)[1] for line in (PROJECT_ROOT / "deploy" / unit).read_text().splitlines()
             if line.startswith("ExecStartPre=")]
    assert len(lines) == 1, f"{unit} should have one ExecStartPre, has {lines}"
    argv = shlex.split(lines[0])
    assert argv[0] == UNIT_PYTHON, argv
    return [sys.executable, *argv[1:]]


@pytest.fixture
def stand_in() -> Iterator[tuple[Path, dict[str, str]]]:
    """A PostgreSQL data folder (not started) and the environment pointing at it; Redis is the test run's."""
    from chatai.embedded import stop_postgres, wipe

    folder = PROJECT_ROOT / ".data" / f"wait-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    pgdata = folder / "pg"
    # The socket of the embedded server lives in its data folder: the URL is known before it starts.
    env = {**os.environ, "DATABASE_URL": f"postgresql+psycopg://postgres:@/postgres?host={pgdata}",
           "DATABASE_OWNER_URL": ""}  # one role: the superuser
    try:
        yield pgdata, env
    finally:
        stop_postgres(pgdata)
        wipe(folder)


def _retry_lines(stderr: str, what: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"waiting for {what} ")]


def _schema_is_current(url: str) -> bool:
    import sqlalchemy as sa
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))).get_heads())
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == heads
    finally:
        engine.dispose()


def test_prestarts_wait_for_a_late_database_then_web_migrates_and_runner_waits_for_the_schema(stand_in):
    from chatai.embedded import start_postgres

    pgdata, env = stand_in
    web = subprocess.Popen(_prestart("chatai-web.service"), cwd=PROJECT_ROOT, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runner = subprocess.Popen(_prestart("chatai-bots@.service"), cwd=PROJECT_ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(4)
        assert web.poll() is None and runner.poll() is None, "a prestart gave up on a database down for 4 s"
        start_postgres(pgdata)
        web_out, web_err = web.communicate(timeout=180)
        runner_out, runner_err = runner.communicate(timeout=180)
    finally:
        for proc in (web, runner):
            if proc.poll() is None:
                proc.kill()
    assert web.returncode == 0, web_out + web_err
    assert runner.returncode == 0, runner_out + runner_err
    for err in (web_err, runner_err):
        assert "Traceback" not in err, err
        # One plain line per retry, naming what it waits for and why.
        assert len(_retry_lines(err, "the database")) >= 2, err
    assert _schema_is_current(env["DATABASE_URL"])
    assert "schema current after" in runner_out


def test_runner_prestart_waits_for_the_schema_and_never_migrates(stand_in):
    from chatai.embedded import start_postgres

    pgdata, env = stand_in
    start_postgres(pgdata)
    command = _prestart("chatai-bots@.service")
    command[command.index("--timeout") + 1] = "4"
    started = time.monotonic()
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _retry_lines(result.stderr, "the schema"), result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: gave up waiting for the schema after 4 s")
    assert not _schema_is_current(env["DATABASE_URL"])  # it waited, it did not migrate
    assert time.monotonic() - started < 30


def _one_line_failure(result: subprocess.CompletedProcess, what: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    retries = _retry_lines(result.stderr, what)
    assert retries and len(lines) == len(retries) + 1, result.stderr  # retries, then the one failure line
    return lines[-1]


def test_a_database_that_never_starts_ends_the_wait_with_one_line_within_the_timeout(stand_in):
    _pgdata, env = stand_in
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "chatai", "db", "wait", "--timeout", "5"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    failure = _one_line_failure(result, "the database")
    assert failure.startswith("error: gave up waiting for the database after 5 s: "), failure
    assert "No such file or directory" in failure or "connect" in failure, failure
    # 5 s of waiting plus the interpreter's start (a few seconds on 2 busy cores), not a hang.
    assert 5 <= elapsed < 20, elapsed


def test_bootstrap_waits_for_redis_when_redis_url_is_set(tmp_path):
    env = {**os.environ, "REDIS_URL": f"unix://{tmp_path / 'no-redis.sock'}"}  # the database is the run's own
    result = subprocess.run([sys.executable, "-m", "chatai", "app", "bootstrap", "--wait", "3"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    failure = _one_line_failure(result, "Redis")
    assert failure.startswith("error: gave up waiting for Redis after 3 s: "), failure
