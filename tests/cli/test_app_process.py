"""`python -m chatai app run` as a process manager runs it: SIGTERM stops everything it started and
frees the port; a start on a taken port refuses with a sentence. One real start (the production build
takes a while), on the test run's database and Redis."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil

from chatai.settings import PROJECT_ROOT
from tests.waits import PATIENCE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _env(port: int) -> dict[str, str]:
    return {**os.environ, "PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}", "HOST": "127.0.0.1"}


def test_app_run_on_a_taken_port_exits_with_a_sentence(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "chatai", "app", "run"], cwd=PROJECT_ROOT, env=_env(port),
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr and "Traceback" not in result.stderr
    assert "ChatAI is starting" not in result.stdout


def test_app_run_stopped_by_sigterm_leaves_no_process_and_frees_the_port(db, tmp_path):
    port = _free_port()
    log = tmp_path / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chatai", "app", "run"], cwd=PROJECT_ROOT, env=_env(port),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):  # noqa: S310 - loopback
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError(f"the app did not answer in time:\n{log.read_text()[-3000:]}")
        started = psutil.Process(proc.pid).children(recursive=True)
        assert started, "app run started no child processes"
        # A browser tab keeps a connection open, and a server shutting down gracefully waits for it.
        browser = socket.create_connection(("127.0.0.1", port))
        browser.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        browser.recv(4096)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        _gone, alive = psutil.wait_procs(started, timeout=PATIENCE)  # gone at once; reaped when the machine can
        assert not alive, [p.cmdline() for p in alive]
        assert _port_free(port)
        assert "ChatAI stopped." in log.read_text()
    finally:
        with contextlib.suppress(NameError):
            browser.close()
        for leftover in [psutil.Process(proc.pid), *started] if proc.poll() is None else started:
            with contextlib.suppress(psutil.Error):
                leftover.kill()
