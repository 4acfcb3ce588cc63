"""Scaled out on one machine, behind nginx: two Reflex backend workers sharing dashboard state through Redis
(Reflex's Redis state manager), against PostgreSQL and Redis reached by URL (stand-ins started by
tests/e2e/edge.py), with the project's nginx site in front. A signed-in dashboard tab, its WebSocket going
through nginx (wss), keeps working when the worker holding that connection is killed with SIGKILL: it
reconnects through nginx to a live worker, still signed in, with its state intact.

The app is the session's `app_url`, the same one tests/e2e/test_nginx.py runs on (one build for both files);
a session whose app another browser test started first runs a different app, and this file is skipped there
with that reason (`make test` gives the two files a session of their own).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from urllib.parse import urlsplit

import psutil
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.e2e.edge import HTTPS_PORT, WORKERS, app_env  # noqa: F401 - app_env: this file's app


def _workers(port: int) -> list[psutil.Process]:
    """The granian worker processes serving the app's port: the children of the process that forked the one
    psutil names as the listening socket's holder (it names one of the processes sharing that socket)."""
    holders = [c.pid for c in psutil.net_connections("tcp")
               if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid]
    if not holders:
        return []
    main = psutil.Process(holders[0]).parent()
    return [child for child in main.children() if child.cmdline() == main.cmdline()]


def _holding_proxied_connections(port: int) -> list[int]:
    return sorted({c.pid for c in psutil.net_connections("tcp")
                   if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED and c.pid})


def _add_qa(page, question: str, answer: str) -> None:
    page.fill("#qa-question", question)
    page.fill("#qa-answer", answer)
    page.click("#qa-submit")
    expect(page.get_by_text(question)).to_be_visible()


def test_session_survives_killing_its_worker(front, front_context, app_url):
    port = urlsplit(app_url).port
    workers = _workers(port)
    if len(workers) != WORKERS:
        pytest.skip(f"the session's app runs {len(workers)} backend worker(s), started by an earlier browser test "
                    "with another environment: run tests/e2e/test_scale_out.py in a session of its own")

    page = front_context.new_page()
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
    through_nginx = f"wss://127.0.0.1:{HTTPS_PORT}/_event"
    assert live[0].url.startswith(through_nginx), live[0].url
    opened_before_kill = len(sockets)
    # The worker with the tab's WebSocket: one holding a connection from nginx whose killing closes it
    # (idle HTTP keep-alive connections may sit on the other worker too).
    killed_at = None
    for pid in _holding_proxied_connections(port):
        if pid not in {w.pid for w in workers}:
            continue
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 30  # a killed worker's sockets close at once; a starved browser notices late
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
            assert fresh[0].url.startswith(through_nginx), fresh[0].url  # the tab reconnects through nginx
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
