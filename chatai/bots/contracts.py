"""What the bot runner's parts promise each other, so that none of them imports another's module for it.

The runner (runner.py) owns workers (supervisor.py, one per bot); a worker answers through handlers.py
(the Telegram channel of chatai/conversation's pipeline) and operator.py. Those need a few things from "a
worker" and "its runner": the protocols here name exactly those, and the runner and the worker satisfy
them. The import graph is then a tree: runner -> supervisor -> handlers / operator -> contracts, with no
module importing back up (not even for type hints).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlmodel.ext.asyncio.session import AsyncSession
    from telegram.request import HTTPXRequest

    from chatai.bots.bot_setup import SetupRecords
    from chatai.bots.pacing import RatePacer
    from chatai.bots.telegram_api import LeanBot
    from chatai.bots.throttle import Throttle
    from chatai.bots.writeback import WriteBehind

AnswerFn = Callable[..., Awaitable[Any]]


class LeaseLost(Exception):
    """This runner may no longer act for the bot (another runner owns it now)."""


class UpdateFailed(Exception):
    """An update could not be stored and has attempts left: back off, then fetch it again."""

    def __init__(self, sentence: str, attempts: int) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.attempts = attempts


@dataclass
class BotRecord:
    """What a worker needs from the bots row (decrypted token stays in memory only)."""

    id: uuid.UUID
    owner_id: uuid.UUID
    assistant_id: uuid.UUID
    token: str
    token_encrypted: str
    webhook_secret: str
    username: str = ""
    setup: str = ""  # what Telegram holds for it, as recorded (bot_setup.py); "" when unknown


@dataclass
class AssistantInfo:
    name: str
    greeting: str
    enabled: bool
    loaded: float
    answer_in_groups: bool = False


class Runner(Protocol):
    """What a worker and the answer path use of the runner that owns them (runner.BotRunner)."""

    answer_fn: AnswerFn
    answer_timeout: float
    lease_ttl: float
    reconcile_interval: float
    poll_timeout: int
    backoff_base: float
    mode: str
    startup_slots: asyncio.Semaphore
    setup_pacer: RatePacer
    setup_records: SetupRecords
    writeback: WriteBehind
    workers: Mapping[uuid.UUID, Worker]

    def running_workers(self) -> dict[uuid.UUID, Worker]: ...

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def db(self, *, hot_row: object = None, urgent: bool = False) -> AbstractAsyncContextManager[AsyncConnection]: ...

    async def assistant(self, assistant_id: uuid.UUID) -> AssistantInfo: ...

    def send_request_for(self, bot_id: uuid.UUID) -> HTTPXRequest: ...

    def updates_request_for(self, bot_id: uuid.UUID) -> HTTPXRequest: ...

    def note_poll(self, bot_id: uuid.UUID) -> None: ...

    def bot_up(self) -> None: ...

    def forget(self, worker: Worker) -> None: ...

    def queue_status(self, worker: Worker, status: str, error: str) -> None: ...


class Worker(Protocol):
    """What the answer path (handlers, charging, operator) uses of one bot's worker (supervisor.BotWorker)."""

    id: uuid.UUID
    record: BotRecord
    runner: Runner
    status: str
    failed: bool
    inflight: set[int]  # update ids being handled here (customers' and operators')
    answer_fn: AnswerFn
    answer_timeout: float
    bot: LeanBot  # sends with inline keyboards, answers buttons (operator_chat.py), sendMessageDraft (streaming)
    throttle: Throttle  # ... through the bot's per-chat pacing

    async def assistant(self) -> AssistantInfo: ...

    def check_lease(self) -> None:
        """Raises LeaseLost when this runner no longer owns the bot: nothing may be sent for it."""
        ...

    def typing(self, chat_id: int, *, business_connection_id: str = "") -> AbstractAsyncContextManager[None]: ...

    async def send_parts(self, chat_id: int, parts: list[str], *,
                         business_connection_id: str = "") -> int | None: ...

    async def answer_again(self, update_ids: list[int]) -> None: ...

