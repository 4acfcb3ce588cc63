"""The "playground" channel: the owner talks to their own assistant in the dashboard, exactly as a customer
would, through the same pipeline as Telegram.

Each exchange is stored in a dialog of the owner's own (channel "playground", no bot), so the conversation
survives a reload and the owner can try a handoff from the inbox. It is never charged (`billable` False:
nothing is reserved, whatever the balance) and analytics leave it out of the customer figures
(services/analytics.py). Delivered = stored: the page shows the transcript, so an answer to a tab closed
meanwhile is still there on the next visit.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from chatai.conversation.channel import AnswerFn, Outcome, Receipt, Stream
from chatai.conversation.pipeline import Conversation
from chatai.conversation.store import open_dialog, record_turn
from chatai.conversation.texts import user_language
from chatai.db.models import Assistant
from chatai.db.session import async_session, get_async_engine
from chatai.services.dialogs import Pending, SavedReply

CHANNEL = "playground"
OnText = Callable[[str], Awaitable[None]]  # the text so far while the answer streams


class _PushStream:
    interval = 0.1  # the dashboard's WebSocket: a fluid bubble, each push is one state delta

    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text

    async def start(self) -> None:
        return None

    async def push(self, text: str) -> None:
        await self.on_text(text)

    async def finish(self) -> None:
        return None


class PlaygroundChannel:
    name = CHANNEL
    billable = False

    def __init__(self, on_text: OnText | None = None) -> None:
        self.on_text = on_text

    def charge_key(self, turn: Pending) -> str:
        return ""

    def language(self, turn: Pending) -> str:
        return user_language(turn.language)

    def typing(self, turn: Pending) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    def stream(self, turn: Pending) -> Stream | None:
        return _PushStream(self.on_text) if self.on_text is not None else None

    async def deliver(self, turn: Pending, reply: SavedReply, language: str) -> Receipt | None:
        return Receipt()  # stored is shown: the page reads the transcript

    async def delivered(self, turn: Pending, reply: SavedReply, receipt: Receipt, latency_ms: int) -> None:
        return None

    async def dropped(self, turn: Pending) -> None:
        return None


@dataclass(frozen=True)
class _Facts:
    name: str
    greeting: str
    enabled: bool


async def _facts(assistant_id: uuid.UUID) -> _Facts:
    async with async_session() as session:
        row = (await session.execute(sa.select(Assistant.name, Assistant.greeting, Assistant.enabled)
                                     .where(Assistant.id == assistant_id))).first()
    return _Facts(row.name if row else "", row.greeting if row else "", bool(row and row.enabled))


@contextlib.asynccontextmanager
async def _autocommit(*, hot_row: object = None, urgent: bool = False) -> AsyncIterator[Any]:  # no admission here
    async with get_async_engine().connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def _default_answer(**kwargs: Any) -> Any:
    from chatai.rag.answer import stream_answer  # lazy: importing the pipeline does not load the RAG stack

    return stream_answer(**kwargs)


def conversation(answer_fn: AnswerFn | None = None) -> Conversation:
    """The pipeline on the web process's own pools (published live events go straight to Redis)."""
    return Conversation(session=async_session, db=_autocommit, answer_fn=answer_fn or _default_answer,
                        assistant=_facts)


async def ask(*, owner_id: uuid.UUID, assistant_id: uuid.UUID, question: str, language: str = "",
              user_name: str = "", on_text: OnText | None = None, dialog_id: uuid.UUID | None = None,
              answer_fn: AnswerFn | None = None) -> tuple[uuid.UUID, Outcome]:
    """One question from the owner to their assistant: (the playground dialog, what became of it). Raises
    store.NotYours for another owner's assistant or dialog."""
    async with async_session() as session:
        if dialog_id is None:
            dialog = await open_dialog(session, owner_id=owner_id, assistant_id=assistant_id, channel=CHANNEL,
                                       user_name=user_name, language=language)
            dialog_id = dialog.id
        turn = await record_turn(session, owner_id=owner_id, assistant_id=assistant_id, channel=CHANNEL,
                                 dialog_id=dialog_id, text=question, language=language)
    conv = conversation(answer_fn)
    await conv.publish(dialog_id=dialog_id, owner_id=owner_id, role="user")
    return dialog_id, await conv.respond(PlaygroundChannel(on_text), turn, assistant_id=assistant_id)
