"""`python -m chatai mail send-pending` as its own process: delivers the queue to a real SMTP server."""

import os
import subprocess
import sys

from chatai.db.session import async_session
from chatai.services import mail
from chatai.settings import PROJECT_ROOT, get_settings
from tests.fakes.smtp_server import SmtpServer


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


async def test_send_pending_delivers_the_queue_and_says_when_mail_is_off(db, monkeypatch):
    off = cli("mail", "send-pending", env={"SMTP_HOST": ""})
    assert off.returncode == 1 and "mail is off" in off.stderr
    server = SmtpServer().start()
    try:
        monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")  # so enqueue writes the row
        async with async_session() as s:
            await mail.enqueue(s, to="cli@example.com", kind="balance_zero", locale="en",
                               values={"link": "http://chatai.test/dashboard/billing"})
            await s.commit()
        sent = cli("mail", "send-pending", env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port),
                                                "SMTP_SECURITY": "none"})
        assert sent.returncode == 0, sent.stderr
        assert "sent 1, failed 0" in sent.stdout
        assert server.wait_for("cli@example.com")[0].subject == "Your ChatAI balance has run out"
    finally:
        server.stop()
