"""deploy/logrotate, run by Debian's logrotate (with a state file of the test's own) on a copy whose paths
point at temporary files, while the writers it rotates are running: a real nginx writing the site's access
and error logs (reopened by the rule's postrotate USR1), and a process holding the backup log open for
appending as systemd's `StandardOutput=append:` does (kept valid by copytruncate). Every rotation must
keep the newest lines, compress the older files, keep the configured number, and leave the writers
writing into the live files.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatai.settings import PROJECT_ROOT
from tests.ops.debian import debian_binary
from tests.waits import PATIENCE

CONFIG = PROJECT_ROOT / "deploy" / "logrotate"
LOG_DIR = "/var/log/chatai/"
NGINX_PID = "/run/nginx.pid"

# Holds the file open once (O_APPEND, like systemd's append:) and writes each line it reads on stdin.
APPEND_WRITER = """
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
for line in sys.stdin:
    os.write(fd, line.encode())
    print("ok", flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_copy(folder: Path) -> tuple[str, Path, dict[str, int]]:
    """deploy/logrotate with every path swapped (each swap must hit), and each file's `rotate` count."""
    text = CONFIG.read_text()
    logs, pid = folder / "log", folder / "nginx.pid"
    swaps = [(LOG_DIR, f"{logs}/", 3), (NGINX_PID, str(pid), 2)]
    if os.geteuid() != 0:
        swaps.append(("create 0640 root adm", "create 0640", 1))
    for old, new, count in swaps:
        assert text.count(old) == count, f"deploy/logrotate no longer has {count} x {old!r}"
        text = text.replace(old, new)
    counts = {}
    for paths, body in re.findall(r"^(/\S+(?: /\S+)*)\s*\{(.*?)^\}", CONFIG.read_text(), re.M | re.S):
        keep = int(re.search(r"^\s*rotate (\d+)", body, re.M).group(1))
        counts.update({Path(path).name: keep for path in paths.split()})
    return text, pid, counts


def test_nginx_site_logs_are_the_ones_rotated():
    site = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    logged = set(re.findall(r"^\s*(?:access|error)_log\s+(\S+?);", site, re.M))
    assert logged == {f"{LOG_DIR}nginx-access.log", f"{LOG_DIR}nginx-error.log"}
    assert all(path in CONFIG.read_text() for path in logged)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """nginx writing its access and error logs where the swapped config rotates them."""
    binary = debian_binary("nginx", "nginx-light")
    logs = tmp_path / "log"
    logs.mkdir()
    (tmp_path / "www").mkdir()
    port = _free_port()
    temp = "\n".join(f"{kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                            "uwsgi", "scgi"))
    config = tmp_path / "nginx.conf"
    config.write_text(f"""
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
daemon off;
pid {tmp_path / 'nginx.pid'};
error_log {logs / 'nginx-error.log'};
events {{ worker_connections 64; }}
http {{
    access_log {logs / 'nginx-access.log'};
    {temp}
    server {{ listen 127.0.0.1:{port}; root {tmp_path / 'www'}; }}
}}
""")
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(config)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + PATIENCE  # a start-up bound, generous for a busy machine
        while not (tmp_path / "nginx.pid").exists() or not _answers(port):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "nginx exited"
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield port, logs
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _answers(port: int) -> bool:
    try:
        _request(port, "/")
    except OSError:
        return False
    return True


def _request(port: int, path: str) -> None:
    """A request for a missing file: one access log line and one error log line naming the path."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=PATIENCE)  # noqa: S310 - loopback
    except urllib.error.HTTPError as error:
        assert error.code in (403, 404)  # a missing file; "/" is a directory without an index


def _contents(path: Path) -> str:
    return (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode()


def _wait_for_line(path: Path, marker: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while marker not in (content := path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{marker!r} never reached {path}: {content[-500:]!r}"
        time.sleep(0.05)


def test_rotation_compresses_keeps_the_count_and_writers_keep_writing(nginx, tmp_path):
    logrotate = debian_binary("logrotate", "logrotate")
    port, logs = nginx
    text, _pid, keep = _config_copy(tmp_path)
    config = tmp_path / "logrotate.conf"
    config.write_text(text)
    config.chmod(0o644)  # logrotate ignores a config file others may write
    state = tmp_path / "logrotate.state"
    backup_log = logs / "backup.log"
    writer = subprocess.Popen([sys.executable, "-c", APPEND_WRITER, str(backup_log)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def write_backup_line(marker: str) -> None:
        writer.stdin.write(f"backup {marker}\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "ok"

    files = ("nginx-access.log", "nginx-error.log", "backup.log")
    rounds = max(keep[name] for name in files) + 2  # enough for the oldest file of each to be dropped
    try:
        for n in range(rounds):
            marker = f"round-{n}-marker"
            _request(port, f"/{marker}")
            write_backup_line(marker)
            for name in files:
                _wait_for_line(logs / name, marker)  # the writer wrote into the live file, after any rotation
            # -f: rotate now, whatever the daily/weekly period says.
            done = subprocess.run([logrotate, "-f", "-s", str(state), str(config)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        after = "after-the-last-rotation"
        _request(port, f"/{after}")
        write_backup_line(after)
        for name in files:
            _wait_for_line(logs / name, after)
    finally:
        writer.stdin.close()
        writer.wait(10)

    for name in files:
        live = (logs / name).read_text()
        # Only what came after the last rotation: the earlier lines moved out, none were left behind.
        assert after in live and "round-" not in live, (name, live)
        rotated = sorted(logs.glob(f"{name}.*"), key=lambda p: int(p.name[len(name) + 1:].split(".")[0]))
        assert len(rotated) == keep[name], (name, [p.name for p in rotated])
        delayed = "delaycompress" in text.split(name, 1)[1].split("}", 1)[0]
        for index, path in enumerate(rotated, start=1):
            compressed = path.suffix == ".gz"
            assert compressed == (index > 1 or not delayed), path.name
            assert path.name == f"{name}.{index}{'.gz' if compressed else ''}"
            # The newest rotated file holds the last round, each older one the round before.
            assert f"round-{rounds - index}-marker" in _contents(path), (path.name, _contents(path)[-300:])
