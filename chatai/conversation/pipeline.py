"""The steps of answering one customer message, for every channel (see the package docstring).

A message reaches `Conversation.respond` already stored (the channel's idempotent store: Telegram's update
row, store.py for the others), as a `Pending` turn with its recent history. Then, in this order:
1. muted: a person holds the dialog (or was asked for) -> the AI stays silent;
2. produce the reply (unless one was saved before a crash): greeting / "text only" / unavailable notices;
   a request for a person -> the dialog waits, the customer is told; reserve the charge (refused: the
   zero-balance notice, the dialog waits, the owner is alerted); generate (streamed when the channel can
   show partial text, else with "typing"); "I don't know" -> a person when the assistant's settings allow;
3. save the reply before delivering it (a crash never costs a second model call);
4. taken over meanwhile: a person took the dialog while the answer was produced -> released, not sent;
5. release a reply that is not billable, deliver, settle (commit delivered, release otherwise);
6. record it answered and publish the live event (Redis, through `publish`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

from chatai import metrics
from chatai.cancellation import cancel_and_wait
from chatai.conversation import charging
from chatai.conversation.channel import AnswerFn, AssistantFacts, Channel, Outcome, Publish, Receipt, Stream
from chatai.conversation.texts import text_for
from chatai.rag.answer import dont_know_text
from chatai.services import dialogs, handoff, topup_resume
from chatai.services.dialogs import Pending, SavedReply
from chatai.services.handoff import is_handoff_request

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

AI_REPLIES = ("llm", "qa", "extractive")  # what the assistant produced (not notices, greetings, "I don't know")


def source_dict(source: Any) -> dict[str, Any]:
    data = asdict(source) if is_dataclass(source) else dict(source)
    if isinstance(data.get("text"), str):
        data["text"] = data["text"][:500]
    return {k: data.get(k) for k in ("document", "section", "score", "text")}


class Conversation:
    """The pipeline with what it runs on: the database (sessions and autocommit connections), the answer
    function (whole `Answer`, or an async iterator of text deltas ending with the `Answer`), how long an
    answer may take, the assistant's facts and the live-event publisher."""

    def __init__(self, *, session: Callable[[], AsyncSession],
                 db: Callable[[], AbstractAsyncContextManager[AsyncConnection]], answer_fn: AnswerFn,
                 assistant: Callable[[uuid.UUID], Any], answer_timeout: float = 90.0,
                 publish: Publish | None = None) -> None:
        self.session = session
        self.db = db
        self.answer_fn = answer_fn
        self.answer_timeout = answer_timeout
        self._assistant = assistant
        self._publish = publish or dialogs.publish_dialog_event

    async def assistant(self, assistant_id: uuid.UUID) -> AssistantFacts:
        return await self._assistant(assistant_id)

    async def publish(self, *, dialog_id: uuid.UUID, owner_id: uuid.UUID, role: str) -> None:
        result = self._publish(dialog_id=dialog_id, owner_id=owner_id, role=role)
        if inspect.isawaitable(result):
            await result

    # --- the handoff step ---------------------------------------------------------------------------

    async def handoff_notice(self, turn: Pending, *, reason: str, language: str | None = None,
                             force: bool = False) -> str | None:
        """Ask for a person on the turn's dialog; the notice for the customer when the dialog now waits for
        one (or already did), None when the assistant's settings keep the AI answering (unless `force`: a
        person was already promised)."""
        async with self.session() as session:
            outcome = await handoff.start_handoff(session, dialog_id=turn.dialog_id, reason=reason, force=force)
            if force and outcome == "started":  # the promised person is owed after all: the owner's dashboard says so
                await topup_resume.tell_owner_unanswered(session, owner_id=turn.owner_id)
                await session.commit()
        if outcome not in ("started", "already"):
            return None
        language = language or handoff.end_user_language(telegram_code=turn.language, texts=[turn.text])
        return handoff.end_user_text("waiting", language)

    # --- generating ---------------------------------------------------------------------------------

    async def _generate(self, channel: Channel, turn: Pending, assistant_id: uuid.UUID, language: str) -> Any:
        """The final Answer; partial text goes to the channel's stream when it has one (else "typing")."""
        result = self.answer_fn(assistant_id=assistant_id, question=turn.text, history=list(turn.history),
                                language=language)
        if inspect.isawaitable(result):  # a whole answer at once
            async with channel.typing(turn):
                return await result
        stream = channel.stream(turn)
        if stream is None:
            async with channel.typing(turn):
                return await _last_answer(result)
        return await _streamed(result, stream)

    async def produce(self, channel: Channel, turn: Pending, assistant_id: uuid.UUID,
                      language: str) -> tuple[str, str, list[dict[str, Any]], dict[str, Any]]:
        """(text, answered_by, sources, extra message fields) for a stored turn."""
        assistant = await self.assistant(assistant_id)
        if turn.kind == "start":
            greeting = assistant.greeting.strip() or text_for("greeting", language, name=assistant.name)
            return greeting, "greeting", [], {}
        if turn.kind == "unsupported":
            return text_for("text_only", language), "notice", [], {}
        if not assistant.enabled:
            return text_for("unavailable", language), "notice", [], {}
        if turn.kind == "text" and is_handoff_request(turn.text):  # a person, not the AI
            notice = await self.handoff_notice(turn, reason="user")
            if notice is not None:
                return notice, "notice", [], {}
        key = channel.charge_key(turn) if channel.billable else ""
        if key and not await charging.reserve(self, turn, key):  # out of money: a notice, a person, never silence
            return await charging.refuse(self, turn, language), "notice", [], {}
        try:
            async with asyncio.timeout(self.answer_timeout):
                answer = await self._generate(channel, turn, assistant_id, language)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the customer still gets one polite answer
            log.warning("answer failed in dialog %s: %s", turn.dialog_id, type(exc).__name__)  # never the question
            metrics.events.llm_error("timeout" if isinstance(exc, TimeoutError) else "error")
            return text_for("fallback", language), "fallback", [], {}
        sources = [source_dict(s) for s in (answer.sources or [])]
        extra = {"prompt_tokens": int(answer.prompt_tokens or 0),
                 "completion_tokens": int(answer.completion_tokens or 0),
                 "needs_handoff": bool(answer.needs_handoff)}
        metrics.events.llm_tokens(prompt=extra["prompt_tokens"], completion=extra["completion_tokens"])
        text = answer.text or text_for("fallback", language)
        if answer.needs_handoff:  # "I don't know": a person takes over when the assistant's handoff settings allow
            answer_lang = getattr(answer, "language", None) or language
            # A question left waiting by a zero balance was promised a person: it keeps that promise (topup_resume).
            notice = await self.handoff_notice(turn, reason="low_confidence", language=answer_lang,
                                               force=turn.resumed)
            if getattr(answer, "outcome", "") == "dont_know":  # one message: a person comes only if one does
                text = dont_know_text(answer_lang, person=notice is not None)
            elif notice:
                text = f"{text}\n\n{notice}"
        return text, answer.answered_by or "llm", sources, extra

    # --- the whole path -----------------------------------------------------------------------------

    async def respond(self, channel: Channel, turn: Pending, *, assistant_id: uuid.UUID) -> Outcome:
        """Exactly one reply for a stored turn: produce (or reuse the saved one), save, deliver, settle."""
        if turn.ai_muted:
            return Outcome("muted")
        language = channel.language(turn)
        started = time.monotonic()
        saved = turn.saved_reply
        taken_over: bool | None = None  # read with the save (one round trip), else just below
        if saved is None:
            text, answered_by, sources, extra = await self.produce(channel, turn, assistant_id, language)
            async with self.db() as conn:
                reply_id, taken_over = await dialogs.save_reply(
                    conn, pending=turn, text=text, answered_by=answered_by, sources=sources, **extra)
            saved = SavedReply(reply_id, text, answered_by, sources)
        key = channel.charge_key(turn) if channel.billable else ""
        if saved.answered_by in AI_REPLIES:
            if taken_over is None:  # a reply saved before a crash: who holds the dialog now
                async with self.db() as conn:
                    taken_over = await dialogs.held_by_person(conn, dialog_id=turn.dialog_id)
            if taken_over:  # a person took the dialog while the answer was produced: they answer, the AI is silent
                if key:  # released, never charged
                    await charging.after_send(self, key, saved, delivered=False, account_id=turn.owner_id)
                await channel.dropped(turn)
                return Outcome("taken_over", saved.answered_by, saved.text, saved.message_id)
        if key:  # a reply that is not billable releases its reservation
            await charging.before_send(self, key, saved, account_id=turn.owner_id)
        receipt: Receipt | None = await channel.deliver(turn, saved, language)
        if key:
            await charging.after_send(self, key, saved, delivered=receipt is not None,
                                      account_id=turn.owner_id)
        if receipt is None:  # permanently undeliverable (the customer blocked the bot, the chat is gone)
            await channel.dropped(turn)
            return Outcome("undeliverable", saved.answered_by, saved.text, saved.message_id)
        latency_ms = int((time.monotonic() - started) * 1000)
        metrics.events.answer(answered_by=saved.answered_by, latency_ms=latency_ms)
        await channel.delivered(turn, saved, receipt, latency_ms)
        await self.publish(dialog_id=turn.dialog_id, owner_id=turn.owner_id, role="assistant")
        return Outcome("answered", saved.answered_by, saved.text, saved.message_id)


async def _last_answer(items: Any) -> Any:
    final = None
    async for item in items:
        if not isinstance(item, str):
            final = item
    if final is None:
        raise RuntimeError("the answer stream ended without an answer")
    return final


_END, _FLUSH = object(), object()


async def _streamed(items: Any, stream: Stream) -> Any:
    """Push the text so far to the stream, at most every `stream.interval` seconds (the first text at once),
    and once more when the model pauses: text withheld by the interval is pushed when the interval is over,
    not when the model's next words arrive (a model stalling mid-answer never hides what it already wrote).
    The final answer is returned, never pushed: the channel delivers it as the reply.

    The answer function is read by a task of its own into a queue, so that the end of an interval can be a
    queue item too (one timer per interval, not a timed wait per word, and never a cancelled generator)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()

    async def read() -> None:
        try:
            async for item in items:
                queue.put_nowait((item, None))
        except Exception as exc:  # noqa: BLE001 - raised again by the reader below, in the caller's task
            queue.put_nowait((_END, exc))
            return
        queue.put_nowait((_END, None))

    text, shown, pushed_at, final = "", "", -stream.interval, None
    timer: asyncio.TimerHandle | None = None
    await stream.start()
    reader = asyncio.create_task(read())
    try:
        while True:
            item, error = await queue.get()
            if item is _END:
                if error is not None:
                    raise error
                break
            if item is _FLUSH:
                timer = None
            elif isinstance(item, str):
                text += item
            else:
                final = item
            if final is not None or text == shown:
                continue
            if loop.time() - pushed_at >= stream.interval:
                await stream.push(text)
                shown, pushed_at = text, loop.time()
            elif timer is None:  # withheld: pushed when the interval is over, whether or not more words came
                timer = loop.call_at(pushed_at + stream.interval, queue.put_nowait, (_FLUSH, None))
    finally:
        if timer is not None:
            timer.cancel()
        if not reader.done():
            await cancel_and_wait([reader], what="answer stream reader")
        await stream.finish()
    if final is None:
        raise RuntimeError("the answer stream ended without an answer")
    return final
