"""Fixtures shared by the service tests."""

import pytest

from tests.fakes.smtp_server import SmtpServer


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server on loopback for a module's mail tests (each test clears it)."""
    server = SmtpServer().start()
    yield server
    server.stop()
