"""Browser tests: the real app (production mode, served as `app run` serves it) on a free loopback port,
against the test database and Redis, driven by Playwright in Debian's chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every browser wait (actions, locators, and expect(), which gives up after 5 s by default) is this generous:
# on a machine busy with other work the app answers late, not wrongly.
from tests.waits import PATIENCE_MS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_app(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    """Until `url` answers 200; the app's log tail in the error when it exits or never answers (the load
    bench starts its app with this too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"app did not answer {url} in {timeout} s:\n{log.read_text()[-4000:]}")


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group it leads, SIGKILL after 20 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def telegram():
    """A fake Telegram Bot API on loopback that the app's bot runner talks to."""
    from tests.fakes.telegram_server import FakeTelegram

    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def yookassa():
    """A stand-in YooKassa API and confirmation page on loopback."""
    from tests.fakes.yookassa_server import FakeYooKassa

    server = FakeYooKassa().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) that the app's mail sender delivers to; sign_up() below
    reads the verification mail from it (smtp_server.RUNNING: pytest may import this conftest under a
    different module name than the tests do, so a global here would not be shared)."""
    from tests.fakes import smtp_server as module

    module.RUNNING = module.SmtpServer().start()
    yield module.RUNNING
    module.RUNNING.stop()


@pytest.fixture(scope="session")
def app_env(telegram, yookassa, smtp_server) -> dict[str, str]:
    """Extra environment for the app under test."""
    # Every browser test signs up from 127.0.0.1: lift the per-client sign-up limit for the run.
    # The bot runner is its own process (bot_runner below), as when scaled out: what a browser sees of
    # bots and conversations must cross processes through the database and Redis.
    return {"TELEGRAM_API_URL": telegram.url, "TELEGRAM_MODE": "polling", "RUN_BOTS_IN_WEB": "false",
            "SIGNUP_MAX_PER_CLIENT": "1000", "YOOKASSA_SHOP_ID": yookassa.shop_id,
            "YOOKASSA_SECRET_KEY": yookassa.secret_key, "YOOKASSA_API_URL": yookassa.api_url,
            # Mail on, so sign-ups verify their address through the mailed link (sign_up below follows it).
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port), "SMTP_SECURITY": "none"}


@pytest.fixture(scope="session")
def bot_runner(app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen]:
    """`python -m chatai bots run` in its own process, with the app's environment."""
    from chatai.cli.app import reflex_environment

    env = reflex_environment()
    env.update(app_env)
    log = tmp_path_factory.mktemp("runner") / "runner.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chatai", "bots", "run", "--poll-timeout", "5"], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    yield proc
    _stop_group(proc)


@pytest.fixture(scope="session")
def app_url(app_env: dict[str, str], bot_runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from chatai.cli.app import reflex_environment

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = reflex_environment()
    env.update({"PORT": str(port), "PUBLIC_URL": url, "HOST": "127.0.0.1", "GRANIAN_WORKERS": "1", **app_env})
    log = tmp_path_factory.mktemp("app") / "reflex.log"
    with log.open("w") as out:
        # What `app run` serves with (chatai/web/serve_prod.py); this session's port is baked into the build,
        # so it builds, and a second session on the same port would reuse the build.
        proc = subprocess.Popen([sys.executable, "-m", "chatai.web.serve_prod"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_app(f"{url}/ping", proc, log)
        yield url
    finally:
        _stop_group(proc)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PATIENCE_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(PATIENCE_MS)
    page = context.new_page()
    yield page
    context.close()


def sign_up(page, email: str, password: str = "a good password") -> None:
    """Sign up, confirm the address with the link from the mail, sign in: on the dashboard, verified."""
    open_page(page, "/signup")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#submit")
    page.locator("#check-inbox").wait_for()
    from tests.fakes.smtp_server import RUNNING

    verify_link = RUNNING.wait_for(email)[-1].link("/auth/verify")
    page.goto(verify_link)
    page.wait_for_url(lambda url: "/signin" in url and "notice=email_verified" in url)
    sign_in(page, email, password)


def sign_in(page, email: str, password: str) -> None:
    page.wait_for_selector("#hydrated", state="attached")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url("**/dashboard**")


def create_assistant(page, name: str) -> None:
    open_page(page, "/dashboard/assistants")
    page.click("#new-assistant")
    page.fill("#assistant-name", name)
    page.click("#create-assistant")
    page.get_by_text(name, exact=True).wait_for()


def open_page(page, path: str) -> None:
    """Navigate and wait until the page is connected to its backend state."""
    page.goto(path)
    page.wait_for_selector("#hydrated", state="attached")


# The scaled-out app behind nginx (tests/e2e/edge.py) for test_nginx.py and test_scale_out.py: its session
# fixtures are registered here so that the two files share one instance of each; nothing else requests them.
from tests.e2e.edge import app_db, external_servers, front, front_context  # noqa: E402, F401
