"""Logs: JSON lines on request, and no bot token, API key or customer's words at the default level, from
any logger, in a full run of the real bot runner."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from chatai.logging_setup import configure_logging
from chatai.settings import PROJECT_ROOT, get_settings
from tests.bots.conftest import FakeBrain, connect, runners, tenant, wait_for  # noqa: F401 - fixtures
from tests.fakes.telegram_server import fake_telegram  # noqa: F401 - fixture

QUESTION = "my passport number is QX-7781-secret, where is parcel 55?"
CUSTOMER = "Zebediah"


@pytest.fixture
def captured():
    """The process's real root handler, writing to a buffer; the root's previous state restored after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    yield lambda **kw: (configure_logging(stream=buffer, **kw), buffer)[1]
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


async def test_runner_run_logs_no_token_and_no_message_text(tenant, fake_telegram, runners, captured):  # noqa: F811
    buffer = captured(fmt="json")  # default level (INFO)
    failing = FakeBrain()
    # An exception quoting the question and the token: what a careless log line would leak.
    failing.reply = lambda q: (_ for _ in ()).throw(RuntimeError(f"cannot answer {q!r} for {token}"))
    bot, token = await connect(fake_telegram, tenant)
    fake_telegram.fail_next(token, "sendMessage", 500)  # a send that fails once, then goes through
    runner = await runners(answer_fn=failing)
    fake_telegram.push_text(token, QUESTION, chat_id=77, first_name=CUSTOMER)
    fake_telegram.push_text(token, "/start", chat_id=78, first_name=CUSTOMER)
    assert len(await fake_telegram.await_sent(token, 2)) == 2
    fake_telegram.revoke(token)  # the token is rejected: logged, with the bot's id
    await wait_for(lambda: "token rejected" in buffer.getvalue())
    await runner.stop()

    logs = buffer.getvalue()
    lines = [json.loads(line) for line in logs.splitlines()]
    assert any("answer failed" in line["message"] for line in lines), logs  # the failure was logged ...
    assert any("token rejected" in line["message"] for line in lines), logs
    secret_part = token.split(":", 1)[1]
    for needle in (secret_part, QUESTION, "QX-7781", "parcel 55", CUSTOMER):  # ... without what it was about
        assert needle not in logs, needle


def test_json_lines_carry_fields_and_extras(captured):
    buffer = captured(fmt="json")
    logging.getLogger("chatai.example").warning("bot %s stopped", "b-1", extra={"bot_id": "b-1", "attempt": 2})
    entry = json.loads(buffer.getvalue().splitlines()[-1])
    assert entry["level"] == "WARNING" and entry["logger"] == "chatai.example"
    assert entry["message"] == "bot b-1 stopped" and entry["bot_id"] == "b-1" and entry["attempt"] == 2
    assert entry["time"].endswith("+00:00")


def test_secrets_masked_on_every_handler(captured, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "metrics-secret-value-42")
    get_settings.cache_clear()
    try:
        buffer = captured(fmt="text")
        # A server's own logger that does not propagate to the root (as granian's do), with its own handler.
        own = io.StringIO()
        server_log = logging.getLogger("some.server")
        server_log.propagate = False
        server_handler = logging.StreamHandler(own)
        server_log.addHandler(server_handler)
        configure_logging(stream=buffer, fmt="text")
        token = "123456789:AAHk3-" + "x" * 29
        server_log.warning("calling https://api.telegram.org/bot%s/getMe", token)
        try:
            raise ValueError(f"bad key sk-proj-{'a' * 40} and metrics-secret-value-42 for {token}")
        except ValueError:
            logging.getLogger("anything").exception("failed via postgresql://chatai:dbpass123@db/chatai")
        server_log.removeHandler(server_handler)
    finally:
        get_settings.cache_clear()
    text = buffer.getvalue() + own.getvalue()
    for secret in ("x" * 29, "a" * 40, "metrics-secret-value-42", "dbpass123"):
        assert secret not in text, secret
    assert "123456789:" in text and "ValueError" in text  # masked, not dropped


def test_cli_writes_json_lines(tmp_path):
    env = {**os.environ, "LOG_FORMAT": "json", "CHATAI_DATA_DIR": str(tmp_path), "MONITOR_BOT_TOKEN": "",
           "MONITOR_HEALTH_URL": "http://127.0.0.1:9/health"}
    done = subprocess.run([sys.executable, "-m", "chatai", "monitor", "--once"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert entries and {"time", "level", "logger", "message"} <= set(entries[0])
    assert "problem: The web app does not answer" in done.stdout
