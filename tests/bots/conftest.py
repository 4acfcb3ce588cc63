"""Fixtures for bot tests: the fake Bot API, a tenant, bots connected through the real service, runners."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.factories import Tenant, make_tenant
from tests.fakes.telegram_server import FakeTelegram, fake_telegram, make_token  # noqa: F401 - fixture
from tests.waits import PATIENCE  # noqa: F401 - re-exported: the bots tests import it from here


@dataclass
class FakeSource:
    document: str
    section: str
    score: float
    text: str


@dataclass
class FakeAnswer:
    text: str
    sources: list[FakeSource]
    answered_by: str = "llm"
    needs_handoff: bool = False
    prompt_tokens: int = 3
    completion_tokens: int = 5
    model: str = "fake"


@dataclass
class FakeBrain:
    """An instant answer function that records its calls; tests swap `reply` or `gate`."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    reply: Callable[[str], str] = lambda q: f"Answer to: {q}"
    delay: float = 0.0
    gate: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, *, assistant_id: uuid.UUID, question: str, history: Any = (),
                       language: str | None = None) -> FakeAnswer:
        self.calls.append({"assistant_id": assistant_id, "question": question, "history": list(history),
                           "language": language})
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        return FakeAnswer(self.reply(question), [FakeSource("faq.md", "Delivery", 0.91, "We deliver in 2 days.")])


@pytest.fixture
async def tenant(db) -> Tenant:
    return await make_tenant(name="Helper")


_next_bot = iter(range(700001, 799999))


async def connect(fake: FakeTelegram, tenant: Tenant, username: str = "") -> tuple[Any, str]:
    """A bot registered at the fake and connected through the real service: (Bot row, token)."""
    from chatai.db.session import async_session
    from chatai.services.bots import connect_bot

    token = make_token(next(_next_bot))
    fake.add_bot(token, username or f"shop{token.split(':')[0]}_bot")
    async with async_session() as s:
        bot = await connect_bot(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, token=token)
    return bot, token


FAST = dict(lease_ttl=1.5, reconcile_interval=0.3, poll_timeout=1, backoff_base=0.1, stop_grace=0.5)


@pytest.fixture
async def runners(db, fake_telegram):  # noqa: F811 - the imported fixture
    """Factory for started runners with short timings; all are stopped at the end of the test."""
    from chatai.bots.runner import BotRunner

    started: list[BotRunner] = []

    async def make(**kw: Any) -> BotRunner:
        runner = BotRunner(**{**FAST, **kw})
        await runner.start()
        started.append(runner)
        return runner

    yield make
    for runner in started:
        if not runner._stopping:
            await runner.stop()


def worker_stopped(worker: Any) -> bool:
    """The bot's worker has finished stopping: its polling task and its answers are over (for wait_for)."""
    main = worker._main
    return (main is None or main.done()) and all(task.done() for task in worker._tasks)


async def wait_for(predicate: Callable[[], Any], timeout: float = PATIENCE, interval: float = 0.05) -> Any:  # noqa: ASYNC109
    """Poll an (async or sync) predicate until truthy (or `timeout` passed: then its last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


async def bot_row(bot_id: uuid.UUID) -> Any:
    from chatai.db.models import Bot
    from chatai.db.session import async_session

    async with async_session() as s:
        return await s.get(Bot, bot_id)


async def status_is(bot_id: uuid.UUID, status: str) -> Any:
    """The bot's row when its status is `status`, else None (for wait_for)."""
    row = await bot_row(bot_id)
    return row if row.status == status else None
