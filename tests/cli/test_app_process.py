"""`python -m chatai app run` as a process manager runs it: SIGTERM stops everything it started and
frees the port; a start on a taken port refuses with a sentence; a restart of an unchanged checkout serves
the previous production build without compiling or building (chatai/web/serve_prod.py). Real starts (a
production build takes a while), on the test run's database and Redis."""

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from chatai.settings import PROJECT_ROOT
from chatai.web import build_fingerprint
from tests.waits import PATIENCE

# What a start prints when it compiles the pages and creates the production build.
BUILD_LINES = ("Building the dashboard", "Compiling", "Creating Production Build")
PAGES = ("/", "/signin/", "/signup/", "/dashboard/")


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
        # An open dashboard tab holds a websocket for as long as it is open: it must not hold the stop.
        tab, _opening = _open_websocket(port, f"http://127.0.0.1:{port}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
        _gone, alive = psutil.wait_procs(started, timeout=PATIENCE)  # gone at once; reaped when the machine can
        assert not alive, [p.cmdline() for p in alive]
        assert _port_free(port)
        printed = log.read_text()
        assert "ChatAI stopped." in printed
        # Stopped gracefully, not killed: the tab was told to go (it reconnects to the next server).
        assert "closing 1 open websocket(s)" in printed, printed[-3000:]
        assert "it was killed" not in printed and "refused to gracefully stop" not in printed, printed[-3000:]
    finally:
        with contextlib.suppress(NameError):
            browser.close()
            tab.close()
        for leftover in [psutil.Process(proc.pid), *started] if proc.poll() is None else started:
            with contextlib.suppress(psutil.Error):
                leftover.kill()


def _open_websocket(port: int, origin: str) -> tuple[socket.socket, bytes]:
    """A browser tab's websocket on the pages' event endpoint: (the open connection, what the server sent first)."""
    key = base64.b64encode(os.urandom(16)).decode()
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall((f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Origin: {origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    received = b""
    while b'"sid"' not in received:
        chunk = conn.recv(4096)
        if not chunk:
            break
        received += chunk
    assert received.startswith(b"HTTP/1.1 101"), received[:200]
    return conn, received


def _websocket_opening(port: int, origin: str) -> bytes:
    """Opens a tab's websocket and closes it again; returns what the server sent first."""
    conn, received = _open_websocket(port, origin)
    conn.close()
    return received


def _serve_once(env: dict[str, str], port: int, log) -> tuple[str, dict[str, bytes]]:
    """Start `app run`, fetch PAGES once it answers, stop it with SIGTERM: (what it printed, the pages)."""
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chatai", "app", "run"], cwd=PROJECT_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"the app did not answer in time:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):  # noqa: S310 - loopback
                    break
            except OSError:
                time.sleep(0.5)
        pages = {}
        for path in PAGES:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:  # noqa: S310
                assert response.status == 200, path
                pages[path] = response.read()
        # The pages' websocket opens too: they can hydrate and talk to their state.
        assert b'"sid"' in _websocket_opening(port, env["PUBLIC_URL"])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return log.read_text(), pages


def test_a_restart_of_an_unchanged_checkout_reuses_the_build(db, tmp_path):
    """What each change rebuilds (a page source, PUBLIC_URL...) is tests/cli/test_build_fingerprint.py's."""
    port = _free_port()
    build_fingerprint.forget(Path(os.environ.get("REFLEX_WEB_WORKDIR", PROJECT_ROOT / ".web")))
    first, built_pages = _serve_once(_env(port), port, tmp_path / "first.log")
    assert all(line in first for line in BUILD_LINES), first
    assert "Node.js is out of date" not in first, first

    second, served_pages = _serve_once(_env(port), port, tmp_path / "second.log")
    assert not [line for line in BUILD_LINES if line in second], second
    assert served_pages == built_pages
    # One address, ours: not Reflex's "App running at" beside it.
    assert second.count(f"127.0.0.1:{port}") == 1 and "App running at" not in second, second
