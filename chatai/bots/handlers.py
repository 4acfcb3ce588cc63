"""The Telegram channel: what an update is, and how a reply reaches the chat; the rest is the pipeline's.

`classify` turns a Bot API update (the JSON dict, not a PTB Update: parsing objects per message cost
CPU for five fields) into a plain `Incoming`; the polling loop and the webhook route both use it, so
both paths behave the same. `respond` hands a persisted `Pending` update to the channel-neutral
conversation pipeline (chatai/conversation/pipeline.py) with `TelegramChannel`: delivered = Telegram
accepted sendMessage; the 'answered' mark batched by the runner's write-behind (bots/writeback.py), which
also publishes the live event.

While an answer is generated: in a private chat, with an answer function that streams (the LLM), the text
appears as it is written through `sendMessageDraft` (`DraftStream`: ephemeral drafts, a few a second) and
the answer is then sent by one ordinary sendMessage with its formatting and sources. Everywhere else (a
group, a whole answer, a Bot API server that rejects drafts: then none are tried again for that bot until
the runner restarts) "typing" is shown, renewed every 4.5 s until the answer is sent. A draft is never a
delivered answer: exactly-once, charges and the take-over check apply to the final message only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from telegram.error import BadRequest, RetryAfter, TelegramError

from chatai.bots import group_chats
from chatai.bots.contracts import LeaseLost
from chatai.bots.group_chats import BotIdentity
from chatai.bots.telegram_format import format_answer, plain
from chatai.bots.throttle import retry_after_seconds
from chatai.conversation.channel import Receipt, Stream
from chatai.conversation.charging import charge_key
from chatai.conversation.pipeline import AI_REPLIES, Conversation
from chatai.conversation.texts import TEXTS, text_for, user_language
from chatai.services import dialogs
from chatai.services.dialogs import NON_TEXT_KINDS, Incoming, Pending, SavedReply
from chatai.settings import get_settings

if TYPE_CHECKING:
    from chatai.bots.contracts import Worker

__all__ = ["AI_REPLIES", "TEXTS", "TelegramChannel", "classify", "classify_for", "respond", "text_for",
           "user_language"]

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
MAX_DRAFT_CHARS = 4096
DRAFT_INTERVAL = 0.35  # seconds between two drafts of one answer: about three a second
_no_drafts: set[uuid.UUID] = set()  # bots whose Bot API server rejected sendMessageDraft (this process)


def _full_name(user: dict[str, Any]) -> str:
    """As PTB's User.full_name: first name, then the last name if any."""
    first, last = str(user.get("first_name") or ""), str(user.get("last_name") or "")
    return f"{first} {last}" if last else first


def classify(update: dict[str, Any], *, bot: BotIdentity | None = None, answer_in_groups: bool = False) -> Incoming:
    """A Bot API update dict -> Incoming. Raises KeyError/TypeError/ValueError on a malformed update.
    A group message is answered only when the assistant allows groups and it addresses `bot`
    (bots/group_chats.py); otherwise it is recorded and ignored like an edit."""
    update_id = int(update["update_id"])
    message = update.get("message")
    if not isinstance(message, dict):  # edited messages, member updates...: recorded, never answered
        return Incoming(update_id=update_id, kind="none")
    user = message.get("from") or None
    chat = message["chat"]
    group = group_chats.in_group(update)
    if group and not (answer_in_groups and bot is not None and group_chats.addressed(message, bot)):
        return Incoming(update_id=update_id, kind="none")
    base = dict(update_id=update_id, chat_id=int(chat["id"]), user_id=int(user["id"]) if user else None,
                user_name=(_full_name(user) if user else str(chat.get("title") or ""))[:255],
                username=str(user.get("username") or "")[:64] if user else "",
                language=str(user.get("language_code") or "") if user else "",
                message_id=message.get("message_id"))
    text = message.get("text")
    if text and group and bot is not None:
        text = group_chats.question(str(text), bot)
    if text:
        text = str(text)[:MAX_QUESTION_CHARS]
        return Incoming(kind="start" if text.startswith("/start") else "text", text=text, **base)
    kind = next((k for k in NON_TEXT_KINDS if message.get(k)), "other")
    return Incoming(kind="unsupported", text=f"[{kind}]", **base)


async def classify_for(worker: Worker, update: dict[str, Any]) -> Incoming:
    """classify() for this worker's bot; the assistant's group switch is looked up (cached by the runner)
    only for a group message."""
    groups = group_chats.in_group(update) and (await worker.assistant()).answer_in_groups
    return classify(update, bot=BotIdentity.from_token(worker.record.username, worker.record.token),
                    answer_in_groups=groups)


class DraftStream:
    """The answer as it is written, in a private chat: drafts, with "typing" until the first one shows and
    instead of them once one fails (the failure is logged, never the text).

    A draft goes out in a task of its own, the newest text winning: reading the model's stream never waits
    for Telegram, and a slow draft is overtaken rather than queued. Each draft waits for its turn in the bot's
    throttle like a message (drafts count toward the bot's and the chat's limits, leaving room for messages:
    bots/throttle.py) and only while the runner holds the bot's lease. `finish` drops a draft still waiting
    for its turn and waits for one being sent, so no draft can land after the final message."""

    interval = DRAFT_INTERVAL

    def __init__(self, worker: Worker, chat_id: int, draft_id: int) -> None:
        self.worker, self.chat_id, self.draft_id = worker, chat_id, draft_id
        self.shown = 0
        self.failed = False
        self._latest: str | None = None
        self._in_flight: asyncio.Task | None = None
        self._queued = False  # the draft in flight waits for its turn in the throttle (not sent yet)
        self._typing: contextlib.AbstractAsyncContextManager[None] | None = None

    async def _typing_on(self) -> None:
        if self._typing is None:
            self._typing = self.worker.typing(self.chat_id)
            await self._typing.__aenter__()

    async def _typing_off(self) -> None:
        typing, self._typing = self._typing, None
        if typing is not None:
            await typing.__aexit__(None, None, None)

    async def _send_latest(self) -> None:
        while self._latest is not None and not self.failed:
            self._queued = True
            try:
                await self.worker.throttle.wait(self.chat_id, draft=True)
            finally:
                self._queued = False
            text, self._latest = self._latest, None  # the newest text by now
            if text is None:
                return
            try:
                self.worker.check_lease()
                await self.worker.bot.send_message_draft(chat_id=self.chat_id, draft_id=self.draft_id,
                                                         text=text[:MAX_DRAFT_CHARS])
            except asyncio.CancelledError:
                raise
            except (TelegramError, LeaseLost) as exc:
                self.failed = True
                if isinstance(exc, BadRequest):  # the server does not do drafts: not for this bot again
                    _no_drafts.add(self.worker.id)
                elif isinstance(exc, RetryAfter):  # the chat waits: messages too
                    self.worker.throttle.block(self.chat_id, retry_after_seconds(exc.retry_after))
                log.info("bot %s: drafts off for this answer (%s); typing instead", self.worker.id,
                         type(exc).__name__)
                return
            self.shown += 1

    async def start(self) -> None:
        await self._typing_on()

    async def push(self, text: str) -> None:
        if not self.failed and text.strip():
            self._latest = text
            if self._in_flight is None or self._in_flight.done():
                self._in_flight = asyncio.create_task(self._send_latest())
        if self.failed:
            await self._typing_on()
        elif self.shown:
            await self._typing_off()

    async def finish(self) -> None:
        self._latest = None
        if self._in_flight is not None and self._queued:
            self._in_flight.cancel()  # not sent yet: the final message goes instead
        if self._in_flight is not None:
            await asyncio.gather(self._in_flight, return_exceptions=True)
        await self._typing_off()


class TelegramChannel:
    """A bot's private or group chat (bots/supervisor.BotWorker does the sending)."""

    name = "telegram"
    billable = True

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def charge_key(self, turn: Pending) -> str:
        return charge_key(turn.bot_id, turn.update_id)

    def language(self, turn: Pending) -> str:
        return user_language(turn.language)

    def typing(self, turn: Pending) -> contextlib.AbstractAsyncContextManager[None]:
        return self.worker.typing(turn.chat_id)

    def stream(self, turn: Pending) -> Stream | None:
        """Drafts in a private chat (a positive chat id) of a bot whose server takes them."""
        if turn.chat_id <= 0 or self.worker.id in _no_drafts or not get_settings().telegram_drafts:
            return None
        # The update id names the draft (non-zero, a 32-bit integer for the Bot API): one per answered message.
        return DraftStream(self.worker, turn.chat_id, draft_id=(int(turn.update_id) % 2**31) or 1)

    def parts(self, reply: SavedReply, language: str) -> list[str]:
        if reply.answered_by == "notice":
            return plain(reply.text)
        return format_answer(reply.text, reply.sources, language=language)

    async def deliver(self, turn: Pending, reply: SavedReply, language: str) -> Receipt | None:
        telegram_message_id = await self.worker.send_parts(turn.chat_id, self.parts(reply, language))
        return None if telegram_message_id is None else Receipt(telegram_message_id)

    async def delivered(self, turn: Pending, reply: SavedReply, receipt: Receipt, latency_ms: int) -> None:
        # Batched with the other bots' marks (writeback.py); owed until written, so recovery skips it.
        self.worker.runner.writeback.mark_answered(dialogs.AnsweredMark(
            bot_id=turn.bot_id, update_id=turn.update_id, reply_id=reply.message_id,
            telegram_message_id=receipt.external_id, latency_ms=latency_ms, dialog_id=turn.dialog_id))

    async def dropped(self, turn: Pending) -> None:
        async with self.worker.runner.db() as conn:
            await dialogs.mark_ignored(conn, bot_id=turn.bot_id, update_id=turn.update_id)


def conversation_for(worker: Worker) -> Conversation:
    """The pipeline on the runner's pools; live events batched by its write-behind (a Redis pipeline)."""
    runner = worker.runner

    async def assistant(_assistant_id: uuid.UUID) -> Any:
        return await worker.assistant()

    return Conversation(session=runner.session, db=runner.db, answer_fn=worker.answer_fn, assistant=assistant,
                        answer_timeout=worker.answer_timeout, publish=runner.writeback.nudge)


async def respond(worker: Worker, pending: Pending) -> None:
    """Exactly one reply for a persisted update (the pipeline's `respond`, through this bot's chat; a business
    chat's through the owner's account: bots/business.respond, chosen by the caller)."""
    await conversation_for(worker).respond(TelegramChannel(worker), pending,
                                           assistant_id=worker.record.assistant_id)
