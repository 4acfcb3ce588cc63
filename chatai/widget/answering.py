"""The web channel's side of answering: how a reply reaches the visitor and what counts as delivered.
The steps themselves (store, handoff check, reserve, generate, settle, publish) are the conversation
service's; this module only hands it a delivery that writes to the visitor's SSE response.

Delivered = the final event written to the visitor's stream: the service's generation runs in a task
that fills a queue, the response drains it, and the final event's write resolves the delivery's future
(True when written, False when the visitor left first: the charge is then released, as in Telegram when
sending fails)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from chatai.db.models import Dialog
from chatai.widget import sse

if TYPE_CHECKING:
    from chatai.widget.routes import Caller

log = logging.getLogger(__name__)
_DONE = object()


class WebDelivery:
    """What the conversation service calls to reach one visitor's open response."""

    channel = "web"

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._written: dict[int, asyncio.Future[bool]] = {}

    def put(self, name: str, data: Any) -> asyncio.Future[bool]:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
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
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not _DONE:
                    futures.append(item[2])
            for future in futures:
                if not future.done():
                    future.set_result(False)


async def answer_events(*, caller: Caller, dialog: Dialog, text: str, client_message_id: str) -> AsyncIterator[bytes]:
    """The SSE body of a visitor's message: the conversation service answers it into a WebDelivery."""
    delivery = WebDelivery()
    task = asyncio.create_task(_answer(delivery, caller=caller, dialog=dialog, text=text,
                                       client_message_id=client_message_id))
    try:
        async for chunk in delivery.drain():
            yield chunk
    finally:
        if not task.done():
            # The visitor left: the service finishes on its own (stored answer, released charge); the
            # deliveries it still makes resolve False at once.
            task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("widget answer failed", exc_info=task.exception())


async def _answer(delivery: WebDelivery, *, caller: Caller, dialog: Dialog, text: str,
                  client_message_id: str) -> None:
    from chatai.web.i18n import text as tr

    try:
        await delivery.error(tr(caller.language, "widget_panel_send_failed"))  # wired to the service at merge
    finally:
        delivery.close()
