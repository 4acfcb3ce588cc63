"""The real app (chatai.chatai:app, as `reflex run --env prod` serves it: granian, compile skipped, so no
frontend build) in a process of its own on the test run's database and Redis, for tests that reach it with
real HTTP and WebSocket clients but need no browser."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from chatai.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_backend(log_dir: Path) -> Iterator[str]:
    """Start the app; yield its URL once it answers /ping; stop it after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_dir / "app.log"
    env = {**os.environ, "PORT": str(port), "PUBLIC_URL": url, "HOST": "127.0.0.1", "RUN_BOTS_IN_WEB": "false",
           "REFLEX_SKIP_COMPILE": "true", "REFLEX_ENV_MODE": "prod", "GRANIAN_WORKERS": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host",
                                 "127.0.0.1", "--port", str(port), "--workers", "1", "chatai.chatai:app"],
                                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        for _ in range(600):  # a bound on attempts, not on time: a busy machine only makes it slower
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ping", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            raise AssertionError(f"the app never answered:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # The whole group: a worker whose graceful stop waits on a websocket the test's client dropped
        # outlives a killed main process (it ran on, holding connections, after a run of the socket tabs' test).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
