"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and two broken ones: a port that
refuses connections and a server that accepts and never answers."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.waits import PATIENCE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    def link(self, path: str) -> str:
        """The first link in the text part whose path starts with `path`."""
        match = re.search(r"https?://\S+?" + re.escape(path) + r"\S*", self.text)
        assert match, f"no {path} link in: {self.text}"
        return match.group(0)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd's hook
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(Received(to=list(envelope.rcpt_tos), message=message))
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        # aiosmtpd gives up on its own start after 5 s by default: too tight beside a whole suite.
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=PATIENCE)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.to]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = PATIENCE) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} mail(s) to {address} did not arrive in {timeout} s")


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


RUNNING: SmtpServer | None = None  # the browser tests' server (tests/e2e/conftest.py smtp_server)
