"""The units' prestart steps (deploy/chatai-web.service, deploy/chatai-bots@.service), run as written there:
they wait for a database that is down when they start and comes up a few seconds later, the web one
migrates it and the runner's waits for that schema; a database that never comes up ends the wait with one
line and a non-zero exit within its timeout. A stand-in embedded PostgreSQL in a folder of its own (under
the project's .data: as root its service user must reach it) plays the external database.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
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


_RETRY = re.compile(r"^waiting for (?P<what>.+?) \(attempt (?P<attempt>\d+), (?P<left>\d+) s left\): (?P<why>.+)$")


def _retry_lines(stderr: str, what: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"waiting for {what} ")]


def _assert_retries_in_order(lines: list[str], what: str, timeout: int) -> None:
    """One plain line per retry, naming what it waits for and why: attempts 1, 2, 3... with the time left
    never growing and never above the timeout (the behaviour; how fast the retries came is the machine's)."""
    parsed = [_RETRY.match(line) for line in lines]
    assert lines and all(parsed), lines
    assert {m["what"] for m in parsed} == {what}, lines
    assert [int(m["attempt"]) for m in parsed] == list(range(1, len(lines) + 1)), lines
    left = [int(m["left"]) for m in parsed]
    assert left == sorted(left, reverse=True) and left[0] <= timeout, lines
    assert all(m["why"].strip() for m in parsed), lines


class _Drained:
    """A child's stdout and stderr read line by line as they come (so the test can wait for a line)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
                         for stream, sink in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _drain(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def finish(self, timeout: float) -> tuple[str, str]:
        self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=30)
        return "".join(self.out), "".join(self.err)


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
    web_io, runner_io = _Drained(web), _Drained(runner)
    try:
        # The database stays down until each prestart has retried twice, however long the machine takes to
        # start them (a fixed sleep let a slow start see the database come up before its second retry).
        deadline = time.monotonic() + 50  # under the web prestart's own 60 s wait
        while not all(len(_retry_lines("".join(io.err), "the database")) >= 2 for io in (web_io, runner_io)):
            assert web.poll() is None and runner.poll() is None, (web_io.err, runner_io.err)
            assert time.monotonic() < deadline, ("no second retry line", web_io.err, runner_io.err)
            time.sleep(0.1)
        start_postgres(pgdata)
        web_out, web_err = web_io.finish(timeout=180)
        runner_out, runner_err = runner_io.finish(timeout=180)
    finally:
        for proc in (web, runner):
            if proc.poll() is None:
                proc.kill()
    assert web.returncode == 0, web_out + web_err
    assert runner.returncode == 0, runner_out + runner_err
    for err, timeout in ((web_err, 60), (runner_err, 120)):
        assert "Traceback" not in err, err
        retries = _retry_lines(err, "the database")
        assert len(retries) >= 2, err
        _assert_retries_in_order(retries, "the database", timeout)
    assert _schema_is_current(env["DATABASE_URL"])
    assert "schema current after" in runner_out


def test_runner_prestart_waits_for_the_schema_and_never_migrates(stand_in):
    from chatai.embedded import start_postgres

    pgdata, env = stand_in
    start_postgres(pgdata)
    command = _prestart("chatai-bots@.service")
    # Long enough that even a slow first check (imports, a busy PostgreSQL) leaves time for a retry line.
    command[command.index("--timeout") + 1] = "10"
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    _assert_retries_in_order(_retry_lines(result.stderr, "the schema"), "the schema", 10)
    assert result.stderr.strip().splitlines()[-1].startswith("error: gave up waiting for the schema after 10 s")
    assert not _schema_is_current(env["DATABASE_URL"])  # it waited, it did not migrate


def _one_line_failure(result: subprocess.CompletedProcess, what: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    retries = _retry_lines(result.stderr, what)
    assert retries and len(lines) == len(retries) + 1, result.stderr  # retries, then the one failure line
    return lines[-1]


# The waits below are long enough that the first check, however slow on a busy machine, leaves room for a
# retry line before the deadline; the subprocess timeout is only the guard against a hang.
NEVER_UP_WAIT = 8


def test_a_database_that_never_starts_ends_the_wait_with_one_line_within_the_timeout(stand_in):
    _pgdata, env = stand_in
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "chatai", "db", "wait", "--timeout", str(NEVER_UP_WAIT)],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    failure = _one_line_failure(result, "the database")
    assert failure.startswith(f"error: gave up waiting for the database after {NEVER_UP_WAIT} s: "), failure
    assert "No such file or directory" in failure or "connect" in failure, failure
    _assert_retries_in_order(_retry_lines(result.stderr, "the database"), "the database", NEVER_UP_WAIT)
    # It waited its whole timeout (a lower bound: a slow machine only makes it longer, never fails it).
    assert time.monotonic() - started >= NEVER_UP_WAIT


def test_bootstrap_waits_for_redis_when_redis_url_is_set(tmp_path):
    env = {**os.environ, "REDIS_URL": f"unix://{tmp_path / 'no-redis.sock'}"}  # the database is the run's own
    result = subprocess.run([sys.executable, "-m", "chatai", "app", "bootstrap", "--wait", str(NEVER_UP_WAIT)],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    failure = _one_line_failure(result, "Redis")
    assert failure.startswith(f"error: gave up waiting for Redis after {NEVER_UP_WAIT} s: "), failure
    _assert_retries_in_order(_retry_lines(result.stderr, "Redis"), "Redis", NEVER_UP_WAIT)
