"""Fixtures of the conversation pipeline's tests: the bot fixtures (fake Bot API, tenant, runners)."""

from tests.bots.conftest import runners, tenant  # noqa: F401 - fixtures
from tests.fakes.telegram_server import fake_telegram  # noqa: F401 - fixture
