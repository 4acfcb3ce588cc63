"""A fresh data folder with the embedded servers, as a new install has it: commands migrate first, and
what a command started is stopped when it ends, SIGTERM included."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from chatai.settings import PROJECT_ROOT


@pytest.fixture
def fresh_env():
    """No DATABASE_URL / REDIS_URL: the CLI runs its own embedded servers in a new folder (inside the
    project: as root, PostgreSQL's service user must traverse every folder above it)."""
    from chatai.embedded import stop_postgres, stop_redis, wipe

    data = PROJECT_ROOT / ".data" / f"cli-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")}
    env["CHATAI_DATA_DIR"] = str(data)
    yield env
    stop_redis(data / "redis")
    stop_postgres(data / "postgres")
    wipe(data)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=180, env=env)


def servers_running(env: dict[str, str]) -> dict[str, bool]:
    status = cli(env, "servers", "status")
    assert status.returncode == 0, status.stderr
    lines = dict(line.split(": ", 1) for line in status.stdout.strip().splitlines())
    return {name: state.startswith("running") for name, state in lines.items()}


def test_fresh_data_folder_command_migrates_first_and_stops_its_servers(fresh_env):
    created = cli(fresh_env, "users", "create", "--email", "owner@example.com", "--password", "correct horse battery")
    assert created.returncode == 0, created.stderr
    assert "Applying database migrations" in created.stderr and "Traceback" not in created.stderr
    assert servers_running(fresh_env) == {"PostgreSQL": False, "Redis": False}

    again = cli(fresh_env, "assistants", "create", "--owner", "owner@example.com", "--name", "Support")
    assert again.returncode == 0, again.stderr
    assert "Applying database migrations" not in again.stderr


def test_servers_stop_stops_servers_left_running(fresh_env):
    from chatai.embedded import start_postgres, start_redis

    data = Path(fresh_env["CHATAI_DATA_DIR"])
    start_postgres(data / "postgres")
    start_redis(data / "redis", data / "redis" / "redis.sock")
    assert servers_running(fresh_env) == {"PostgreSQL": True, "Redis": True}
    stopped = cli(fresh_env, "servers", "stop")
    assert stopped.returncode == 0 and "stopped Redis and PostgreSQL" in stopped.stdout, stopped.stderr
    assert servers_running(fresh_env) == {"PostgreSQL": False, "Redis": False}


def test_bots_run_stopped_by_sigterm_stops_the_servers_it_started(fresh_env):
    data = Path(fresh_env["CHATAI_DATA_DIR"])
    proc = subprocess.Popen([sys.executable, "-m", "chatai", "bots", "run", "--poll-timeout", "1"], cwd=PROJECT_ROOT,
                            env=fresh_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        output = ""
        while "bot runner" not in output and time.monotonic() < deadline and proc.poll() is None:
            output += proc.stdout.readline()
        assert "started" in output, output
        if os.geteuid() == 0:
            # A process whose data folder is above this one tightens it to 0700 (fsperms): the stop must
            # still reach PostgreSQL's folder as its service user.
            data.chmod(0o700)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM or proc.returncode == 0, rest
    assert "Traceback" not in rest and "still be running" not in rest, rest
    assert servers_running(fresh_env) == {"PostgreSQL": False, "Redis": False}
