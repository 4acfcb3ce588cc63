"""Scaled out on one machine: two Reflex backend workers sharing dashboard state through Redis (Reflex's
Redis state manager), against PostgreSQL and Redis reached by URL (a second embedded PostgreSQL and a second
redis-server, started here, stand in for external ones). A signed-in dashboard tab keeps working when the
worker holding its WebSocket is killed with SIGKILL: it reconnects, still signed in, with its state intact.

The app is the session's `app_url`, started here with its own environment (two workers, the stand-in
servers): a session whose app was already started by another browser test runs a different app, and this
file is skipped there with that reason (`make test` runs it in a session of its own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, create_assistant, open_page, sign_up

WORKERS = 2
# Inside the project (embedded PostgreSQL as root must reach its data dir), short for the redis socket.
STAND_IN = ROOT / ".data" / f"scale-{os.getpid()}"


@pytest.fixture(scope="session")
def external_servers() -> Iterator[dict[str, str]]:
    """A second PostgreSQL and Redis, migrated with `python -m chatai db upgrade`: the app sees only URLs."""
    from chatai.embedded import postgres_url, redis_url, start_postgres, start_redis, stop_postgres, stop_redis, wipe

    pgdata, redis_dir = STAND_IN / "pg", STAND_IN / "redis"
    start_postgres(pgdata)
    start_redis(redis_dir, redis_dir / "r.sock")
    try:
        urls = {"DATABASE_URL": postgres_url(pgdata), "REDIS_URL": redis_url(redis_dir / "r.sock")}
        migrated = subprocess.run([sys.executable, "-m", "chatai", "db", "upgrade"], cwd=ROOT,
                                  env={**os.environ, **urls}, capture_output=True, text=True, timeout=300)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        yield urls
    finally:
        stop_redis(redis_dir)
        stop_postgres(pgdata)
        wipe(STAND_IN)


@pytest.fixture(scope="session")
def app_env(app_env: dict[str, str], external_servers: dict[str, str]) -> dict[str, str]:
    """The conftest's environment (bots in their own runner already), with two web workers and the
    stand-in servers; Reflex's state manager is redis only through REFLEX_REDIS_URL."""
    return {**app_env, **external_servers, "REFLEX_REDIS_URL": external_servers["REDIS_URL"],
            "GRANIAN_WORKERS": str(WORKERS)}


def _workers(port: int) -> list[psutil.Process]:
    """The granian worker processes serving the app's port: the children of the process that forked the one
    psutil names as the listening socket's holder (it names one of the processes sharing that socket)."""
    holders = [c.pid for c in psutil.net_connections("tcp")
               if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid]
    if not holders:
        return []
    main = psutil.Process(holders[0]).parent()
    return [child for child in main.children() if child.cmdline() == main.cmdline()]


def _holding_browser_connections(port: int) -> list[int]:
    return sorted({c.pid for c in psutil.net_connections("tcp")
                   if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED and c.pid})


def _add_qa(page, question: str, answer: str) -> None:
    page.fill("#qa-question", question)
    page.fill("#qa-answer", answer)
    page.click("#qa-submit")
    expect(page.get_by_text(question)).to_be_visible(timeout=30_000)


def test_session_survives_killing_its_worker(page, app_url):
    port = urlsplit(app_url).port
    workers = _workers(port)
    if len(workers) != WORKERS:
        pytest.skip(f"the session's app runs {len(workers)} backend worker(s), started by an earlier browser test "
                    "with another environment: run tests/e2e/test_scale_out.py in a session of its own")

    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    sign_up(page, f"scale-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Scale helper one")
    create_assistant(page, "Scale helper two")
    open_page(page, "/dashboard/knowledge")
    picker = page.locator("#assistant-picker")
    expect(picker).to_contain_text("Scale helper")
    # State worth keeping: the assistant picked here is not the one a fresh state would show by default.
    chosen = "Scale helper two" if "one" in picker.inner_text() else "Scale helper one"
    picker.click()
    page.get_by_role("option", name=chosen).click()
    expect(picker).to_have_text(chosen)
    page.click("#tab-qa")
    _add_qa(page, "Opening hours before the kill?", "Seven to six.")

    live = [ws for ws in sockets if "/_event" in ws.url][-1:]
    assert live and not live[0].is_closed()
    opened_before_kill = len(sockets)
    # The worker with the tab's WebSocket: one holding a connection from the browser whose killing closes it
    # (idle HTTP keep-alive connections may sit on the other worker too).
    killed_at = None
    for pid in _holding_browser_connections(port):
        if pid not in {w.pid for w in workers}:
            continue
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 5
        while not live[0].is_closed() and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        if live[0].is_closed():
            break
    assert killed_at is not None and live[0].is_closed(), "no worker held the tab's WebSocket"

    # The tab reconnects by itself: a new WebSocket to a live worker, the first event answered there.
    reconnect = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fresh = [ws for ws in sockets[opened_before_kill:] if "/_event" in ws.url and not ws.is_closed()]
        if fresh:
            reconnect = time.monotonic() - killed_at
            break
        page.wait_for_timeout(50)
    assert reconnect is not None, "the tab did not reconnect within 60 s"

    # The reconnected tab re-runs the page's load (as after any reconnect), which keeps the picked assistant
    # only if the server still has this tab's state: a fresh state would fall back to the default one.
    page.click("#tab-qa")
    _add_qa(page, "Delivery after the kill?", "Within the city.")
    answered = time.monotonic() - killed_at
    expect(picker).to_have_text(chosen)
    expect(page.get_by_text("Opening hours before the kill?")).to_be_visible()  # the same assistant's pairs
    assert "/dashboard/knowledge" in page.url  # still signed in: a signed-out tab is sent to /signin
    open_page(page, "/dashboard/assistants")
    expect(page.get_by_text(chosen, exact=True)).to_be_visible()
    assert len(_workers(port)) == WORKERS  # granian started a worker in place of the killed one
    print(f"\nworker killed -> new WebSocket open in {reconnect:.2f} s, first event answered in {answered:.2f} s; "
          f"workers now: {[w.pid for w in _workers(port)]}")
