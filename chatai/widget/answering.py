"""The web channel's side of answering: how a reply reaches the visitor and what counts as delivered.
The steps themselves (store, handoff check, reserve, generate, settle, publish) are the conversation
service's; this module only hands it a delivery that writes to the visitor's SSE response.

Delivered = the final event written to the visitor's stream: the service's generation runs in a task
that fills a queue, the response drains it, and the final event's write resolves the delivery's future
(True when written, False when the visitor left first: the charge is then released, as in Telegram when
sending fails)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Dialog, utcnow
from chatai.db.session import async_session
from chatai.widget import sse
from chatai.widget.models import WidgetClientMessage
from chatai.widget.tokens import Visitor

if TYPE_CHECKING:
    from chatai.widget.routes import Caller

log = logging.getLogger(__name__)
_DONE = object()


class WebDelivery:
    """What the conversation service calls to reach one visitor's open response."""

    channel = "web"

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._gone = False  # the response ended (the visitor left): nothing more can be written

    def put(self, name: str, data: Any) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._gone:
            future.set_result(False)
        else:
            self._queue.put_nowait((name, data, future))
        return future

    async def accepted(self, *, dialog_id: uuid.UUID, message: dict[str, Any]) -> None:
        self.put("accepted", {"dialog": str(dialog_id), "message": message})

    async def delta(self, text: str) -> None:
        if text:
            self.put("delta", {"text": text})

    async def final(self, message: dict[str, Any]) -> bool:
        """The answer as stored; True once written to the visitor's stream."""
        return await self.put("final", {"message": message})

    async def notice(self, message: dict[str, Any]) -> bool:
        return await self.put("notice", {"message": message})

    async def error(self, sentence: str) -> None:
        self.put("error", {"error": sentence})

    def close(self) -> None:
        self._queue.put_nowait(_DONE)

    async def drain(self) -> AsyncIterator[bytes]:
        """The response body: every event as it comes; a future is resolved after its bytes are handed to
        the server (a visitor gone by then cancels this generator, and every open future turns False)."""
        futures: list[asyncio.Future[bool]] = []
        try:
            while True:
                item = await self._queue.get()
                if item is _DONE:
                    return
                name, data, future = item
                futures.append(future)
                yield sse.event(name, data)
                if not future.done():
                    future.set_result(True)
        finally:
            self._gone = True
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not _DONE:
                    futures.append(item[2])
            for future in futures:
                if not future.done():
                    future.set_result(False)


async def answer_events(*, caller: Caller, dialog: Dialog, text: str, client_message_id: str,
                        recorded: Recorded | None = None) -> AsyncIterator[bytes]:
    """The SSE body of a visitor's message: the conversation service answers it into a WebDelivery.
    `recorded`: the message is already stored (it started the conversation, start_conversation below)."""
    delivery = WebDelivery()
    task = asyncio.create_task(_answer(delivery, caller=caller, dialog=dialog, text=text,
                                       client_message_id=client_message_id, recorded=recorded))
    try:
        async for chunk in delivery.drain():
            yield chunk
    finally:
        if not task.done():
            # The visitor left: the service finishes on its own (stored answer, released charge); the
            # deliveries it still makes resolve False at once.
            task.add_done_callback(_log_failure)


@dataclass(frozen=True)
class Recorded:
    """A visitor's message as stored: the conversation service's turn, and the message's id."""

    turn: Any
    message_id: uuid.UUID | None


async def _record(session: AsyncSession, dialog: Dialog, *, text: str, language: str,
                  client_message_id: str) -> Recorded:
    """Store the message (commits the session's transaction) and tie the client id to it."""
    from chatai.conversation.store import record_turn
    from chatai.widget.conversations import note_client_message, user_message_id

    turn = await record_turn(session, owner_id=dialog.owner_id, assistant_id=dialog.assistant_id, channel="web",
                             dialog_id=dialog.id, text=text, language=language)
    message_id = await user_message_id(session, dialog_id=dialog.id, at=turn.received_at)
    await note_client_message(session, dialog_id=dialog.id, client_message_id=client_message_id, message_id=message_id)
    return Recorded(turn, message_id)


async def start_conversation(*, visitor: Visitor, language: str, text: str,
                             client_message_id: str) -> tuple[uuid.UUID, Dialog | None, Recorded | None]:
    """A conversation started by the visitor's first message: the dialog, the client id's claim and the
    message are committed together, so no one (inbox, analytics, customer counts) ever sees a web dialog
    without a message. Returns (its id, the dialog, the stored message); for a client id that already
    started one of this visitor's conversations (a retry after a dropped connection) (that id, None, None),
    storing nothing."""
    from chatai.widget.conversations import dialog_with_client_message, lock_visitor, open_dialog

    async with async_session() as session:
        await lock_visitor(session, visitor)
        known = await dialog_with_client_message(session, visitor, client_message_id)
        if known is not None:
            await session.rollback()
            return known, None, None
        dialog = await open_dialog(session, visitor, language=language)
        session.add(WidgetClientMessage(dialog_id=dialog.id, client_message_id=client_message_id, created_at=utcnow()))
        recorded = await _record(session, dialog, text=text, language=language, client_message_id=client_message_id)
        return dialog.id, dialog, recorded


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("widget answer failed", exc_info=task.exception())


class SseStream:
    """The pipeline's partial text (the whole text so far) as deltas on the visitor's response."""

    interval = 0.1  # seconds between pushes at most: small SSE events, the text flows as it is written

    def __init__(self, delivery: WebDelivery) -> None:
        self.delivery, self.sent = delivery, 0

    async def start(self) -> None:
        return None

    async def push(self, text: str) -> None:
        if len(text) > self.sent:
            await self.delivery.delta(text[self.sent:])
            self.sent = len(text)

    async def finish(self) -> None:
        return None


class WebChannel:
    """The website widget as a channel of the conversation service (chatai/conversation/channel.py)."""

    name = "web"
    billable = True

    def __init__(self, delivery: WebDelivery, *, caller: Caller, client_message_id: str) -> None:
        self.delivery, self.caller, self.client_message_id = delivery, caller, client_message_id

    def charge_key(self, turn: Any) -> str:
        # One charge per visitor message: a retry of the same client message id can never be charged twice.
        return f"web:{turn.dialog_id}:{self.client_message_id}"

    def language(self, turn: Any) -> str:
        return self.caller.language

    def typing(self, turn: Any) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()  # the panel shows "typing" while its request is open

    def stream(self, turn: Any) -> SseStream:
        return SseStream(self.delivery)

    async def deliver(self, turn: Any, reply: Any, language: str) -> Any:
        from chatai.conversation.channel import Receipt
        from chatai.widget.conversations import panel_sources

        message: dict[str, Any] = {"id": str(reply.message_id), "role": "assistant", "text": reply.text}
        if self.caller.widget.show_sources and reply.answered_by in ("llm", "qa", "extractive"):
            message["sources"] = panel_sources(reply.sources)
        return Receipt() if await self.delivery.final(message) else None

    async def delivered(self, turn: Any, reply: Any, receipt: Any, latency_ms: int) -> None:
        from chatai.widget.conversations import note_client_message

        async with async_session() as session:
            await note_client_message(session, dialog_id=turn.dialog_id, client_message_id=self.client_message_id,
                                      answer_id=reply.message_id)

    async def dropped(self, turn: Any) -> None:
        return None


async def _answer(delivery: WebDelivery, *, caller: Caller, dialog: Dialog, text: str, client_message_id: str,
                  recorded: Recorded | None) -> None:
    from chatai.conversation.playground import conversation

    try:
        if recorded is None:
            async with async_session() as session:
                recorded = await _record(session, dialog, text=text, language=caller.language,
                                         client_message_id=client_message_id)
        turn = recorded.turn
        await delivery.accepted(dialog_id=dialog.id, message={"id": str(recorded.message_id), "role": "user",
                                                              "text": turn.text, "client_id": client_message_id})
        service = conversation(ANSWER_FN)
        await service.publish(dialog_id=dialog.id, owner_id=dialog.owner_id, role="user")
        await service.respond(WebChannel(delivery, caller=caller, client_message_id=client_message_id), turn,
                              assistant_id=dialog.assistant_id)
    except Exception:
        from chatai.web.i18n import text as tr

        log.warning("widget answer failed in dialog %s", dialog.id, exc_info=True)
        await delivery.error(tr(caller.language, "widget_panel_send_failed"))
        raise
    finally:
        delivery.close()


# The answer function the service generates with (None: the RAG stack's stream_answer). Tests and the bench
# set a stand-in here, as they do for the Telegram runner.
ANSWER_FN: Any = None
