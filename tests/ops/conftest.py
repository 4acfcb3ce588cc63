"""Operations tests: whole processes (the CLI, bot runners) against the test run's servers and fakes."""

from tests.fakes.telegram_server import fake_telegram  # noqa: F401 - re-exported fixture
