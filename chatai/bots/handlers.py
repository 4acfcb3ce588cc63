"""Thin adapters between Telegram and the services: what an update is, and what to reply.

`classify` turns a Bot API update (the JSON dict, not a PTB Update: parsing objects per message cost
CPU for five fields) into a plain `Incoming`; the polling loop and the webhook route both use it, so
both paths behave the same. `respond` produces and sends exactly one
reply for a persisted `Pending` update: greeting, "text only" notice, or the assistant's answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

from chatai import metrics
from chatai.bots import charging, group_chats, operator
from chatai.bots.group_chats import BotIdentity
from chatai.bots.logsafe import describe
from chatai.bots.telegram_format import format_answer, plain
from chatai.rag.answer import dont_know_text
from chatai.services import dialogs
from chatai.services.dialogs import NON_TEXT_KINDS, Incoming, Pending, SavedReply
from chatai.services.handoff import is_handoff_request

if TYPE_CHECKING:
    from chatai.bots.contracts import Worker

log = logging.getLogger(__name__)

AnswerFn = Callable[..., Awaitable[Any]]
AI_REPLIES = ("llm", "qa", "extractive")  # what the assistant produced (not notices, greetings, "I don't know")
MAX_QUESTION_CHARS = 4000

TEXTS = {
    "greeting": {
        "en": "Hello! I'm {name}. Ask me a question and I'll answer from our documentation.",
        "ru": "Здравствуйте! Я {name}. Задайте вопрос — я отвечу по нашей документации.",
    },
    "text_only": {
        "en": "Sorry, I can only read text messages. Please type your question.",
        "ru": "Извините, я понимаю только текстовые сообщения. Пожалуйста, напишите вопрос текстом.",
    },
    "fallback": {
        "en": "Sorry, I can't answer right now. Please try again in a minute.",
        "ru": "Извините, сейчас я не могу ответить. Пожалуйста, попробуйте через минуту.",
    },
    "unavailable": {
        "en": "This assistant is not available right now.",
        "ru": "Этот помощник сейчас недоступен.",
    },
}


def user_language(code: str | None) -> str:
    """Telegram's language_code ('ru', 'ru-RU', 'en-GB', None) -> the UI languages we have."""
    return "ru" if (code or "").lower().startswith("ru") else "en"


def text_for(key: str, language: str, **fmt: str) -> str:
    return TEXTS[key][language].format(**fmt)


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


def _source_dict(source: Any) -> dict[str, Any]:
    data = asdict(source) if is_dataclass(source) else dict(source)
    if isinstance(data.get("text"), str):
        data["text"] = data["text"][:500]
    return {k: data.get(k) for k in ("document", "section", "score", "text")}


async def _produce(worker: Worker, pending: Pending, language: str) -> tuple[str, str, list[dict[str, Any]],
                                                                             dict[str, Any]]:
    """(text, answered_by, sources, extra message fields) for a pending update."""
    assistant = await worker.assistant()
    if pending.kind == "start":
        greeting = assistant.greeting.strip() or text_for("greeting", language, name=assistant.name)
        return greeting, "greeting", [], {}
    if pending.kind == "unsupported":
        return text_for("text_only", language), "notice", [], {}
    if not assistant.enabled:
        return text_for("unavailable", language), "notice", [], {}
    if pending.kind == "text" and is_handoff_request(pending.text):  # a person, not the AI (bots/operator.py)
        notice = await operator.handoff_notice(worker, pending, reason="user")
        if notice is not None:
            return notice, "notice", [], {}
    if not await charging.reserve(worker, pending):  # out of money: a polite notice, a person, never silence
        return await charging.refuse(worker, pending, language), "notice", [], {}
    try:
        async with worker.typing(pending.chat_id):
            answer = await asyncio.wait_for(
                worker.answer_fn(assistant_id=worker.record.assistant_id, question=pending.text,
                                 history=list(pending.history), language=language),
                worker.answer_timeout,
            )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user still gets one polite answer
        log.warning("answer failed for bot %s: %s", worker.record.id, describe(exc))  # never the question
        metrics.events.llm_error("timeout" if isinstance(exc, TimeoutError) else "error")
        return text_for("fallback", language), "fallback", [], {}
    sources = [_source_dict(s) for s in (answer.sources or [])]
    extra = {"prompt_tokens": int(answer.prompt_tokens or 0), "completion_tokens": int(answer.completion_tokens or 0),
             "needs_handoff": bool(answer.needs_handoff)}
    metrics.events.llm_tokens(prompt=extra["prompt_tokens"], completion=extra["completion_tokens"])
    text = answer.text or text_for("fallback", language)
    if answer.needs_handoff:  # "I don't know": a person takes over when the assistant's handoff settings allow
        answer_lang = getattr(answer, "language", None) or language
        # A question left waiting by a zero balance was promised a person: it keeps that promise (topup_resume).
        notice = await operator.handoff_notice(worker, pending, reason="low_confidence", language=answer_lang,
                                               force=pending.resumed)
        if getattr(answer, "outcome", "") == "dont_know":  # one message: it says a person comes only if one does
            text = dont_know_text(answer_lang, person=notice is not None)
        elif notice:
            text = f"{text}\n\n{notice}"
    return text, answer.answered_by or "llm", sources, extra


async def respond(worker: Worker, pending: Pending) -> None:
    """Exactly one reply: produce (or reuse the saved one), save, send, mark answered."""
    if pending.ai_muted:
        return
    language = user_language(pending.language)
    started = time.monotonic()
    saved = pending.saved_reply
    if saved is None:
        text, answered_by, sources, extra = await _produce(worker, pending, language)
        async with worker.runner.db() as conn:
            reply_id = await dialogs.save_reply(conn, pending=pending, text=text, answered_by=answered_by,
                                                sources=sources, **extra)
        saved = SavedReply(reply_id, text, answered_by, sources)
    if saved.answered_by in AI_REPLIES:
        async with worker.runner.db() as conn:
            taken_over = await dialogs.held_by_person(conn, dialog_id=pending.dialog_id)
        if taken_over:  # a person took the dialog while the answer was produced: they answer, the AI is silent
            await charging.after_send(worker, pending, saved, delivered=False)  # released, never charged
            async with worker.runner.db() as conn:
                await dialogs.mark_ignored(conn, bot_id=pending.bot_id, update_id=pending.update_id)
            return
    await charging.before_send(worker, pending, saved)  # a reply that is not billable releases its reservation
    if saved.answered_by == "notice":
        parts = plain(saved.text)
    else:
        parts = format_answer(saved.text, saved.sources, language=language)
    telegram_message_id = await worker.send_parts(pending.chat_id, parts)
    await charging.after_send(worker, pending, saved, delivered=telegram_message_id is not None)
    if telegram_message_id is None:  # permanently undeliverable (user blocked the bot)
        async with worker.runner.db() as conn:
            await dialogs.mark_ignored(conn, bot_id=pending.bot_id, update_id=pending.update_id)
        return
    latency_ms = int((time.monotonic() - started) * 1000)
    metrics.events.answer(answered_by=saved.answered_by, latency_ms=latency_ms)  # a dict increment (metrics.py)
    # Batched with the other bots' marks (writeback.py); owed until written, so recovery skips it.
    worker.runner.writeback.mark_answered(dialogs.AnsweredMark(
        bot_id=pending.bot_id, update_id=pending.update_id, reply_id=saved.message_id,
        telegram_message_id=telegram_message_id, latency_ms=latency_ms, dialog_id=pending.dialog_id))
    worker.runner.writeback.nudge(dialog_id=pending.dialog_id, owner_id=pending.owner_id, role="assistant")
