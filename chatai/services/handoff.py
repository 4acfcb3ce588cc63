"""Handoff to a person: a dialog goes 'ai' -> 'waiting' (a person was asked for) -> 'human' (held by
Dialog.operator_id) -> back to 'ai' (released, or timed out). The AI never answers while 'waiting' or
'human' (services/dialogs.record_incoming mutes those dialogs).

Who moves a dialog:
- the end user asking for a person (`is_handoff_request`, rules in handoff_phrases.py, checked by
  bots/handlers before any AI answer),
  the assistant not knowing (needs_handoff, when the assistant's settings allow), the billing engine at a
  zero balance: `request_handoff`;
- the owner in the inbox: `take_over`, `send_operator_message`, `release`;
- the bot runner that owns the dialog's bot (bots/operator.py): `time_out`, and the delivery of outgoing
  messages (handoff_delivery.py: `pending_outgoing`, `mark_sent`, `mark_failed`).

Nobody waits forever. The timeout lives in the database (Dialog.handoff_at, Dialog.operator_active_at,
Assistant.handoff_timeout_minutes), swept every few seconds by the runners, so it survives restarts. It
applies to both states: 'waiting' counts from handoff_at (nobody took it), 'human' counts from the
operator's last sign of life (the take-over or their last reply), so a held dialog whose operator went
silent also goes back to the AI, with an apology to the end user.

Outgoing messages (operator replies; the notices sent at release and timeout) are written 'pending' in
the same transaction as the change that causes them, then sent by the runner owning the bot, through
the bot's own rate limits (BotWorker.send_parts). The web process nudges that runner over Redis
(DELIVERY_CHANNEL); the runners also sweep 'pending' rows, so a lost nudge or a runner restart only
delays a message. A crash between Telegram accepting a message and the row turning 'sent' sends it again
after the restart: at least once, as for answers (services/dialogs.py).

Concurrency: every state change locks the dialog row (SELECT ... FOR UPDATE) and re-checks the state
under the lock, so two take-overs at once end with exactly one holder and a take-over racing the timeout
sweep is never undone by it.

Every owner-facing function checks the dialog belongs to owner_id and raises HandoffError(code); codes are
translated by the inbox as `inbox_err_<code>`. Functions take the caller's session first and commit it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.id_arrays import uuid_array
from chatai.db.models import Assistant, Bot, Dialog, Message, utcnow
from chatai.rag.language import detect_language
from chatai.services import notifications
from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL
from chatai.services.handoff_phrases import is_handoff_request  # noqa: F401 - part of this API (contract)
from chatai.textsafe import db_safe

log = logging.getLogger(__name__)

DELIVERY_CHANNEL = "chatai:handoff:deliver"  # {"bot_id", "dialog_id"}: the runner owning the bot sends now
MAX_OPERATOR_TEXT = 4096  # one Telegram message
DELIVERY_DEADLINE = timedelta(minutes=2)  # a message still unsent by then is marked failed, never left hanging
MIN_TIMEOUT_MINUTES = 1
ERROR_CODES = ("not_found", "held_by_other", "not_held", "empty_text", "too_long", "bot_unavailable")
# The system notice (role 'system', text = event code) written for each reason of request_handoff.
REASON_EVENTS = {"user": "handoff_requested", "low_confidence": "handoff_low_confidence",
                 "balance_zero": "balance_zero"}

# What the end user reads in Telegram (not dashboard UI: like bots/handlers.TEXTS, by the user's language).
END_USER_TEXTS = {
    "waiting": {
        "en": "I've asked a person to join this chat. They will answer you here soon.",
        "ru": "Я позвал сотрудника. Он ответит вам здесь в ближайшее время.",
    },
    "released": {
        "en": "You're back with the AI assistant: I'll answer your questions from here.",
        "ru": "Дальше вам снова отвечает ИИ-ассистент.",
    },
    "timed_out": {
        "en": "Sorry, no one is free to answer right now. I'm the AI assistant again and will do my best to "
              "help; you can ask for a person again later.",
        "ru": "Извините, сейчас никто из сотрудников не может ответить. Дальше снова отвечаю я, ИИ-ассистент, "
              "и постараюсь помочь; позже вы можете снова позвать сотрудника.",
    },
}


class HandoffError(Exception):
    """A refused action; `code` is one of ERROR_CODES (the inbox shows `inbox_err_<code>`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# --- languages -----------------------------------------------------------------------------------------


def telegram_language(code: str | None) -> str:
    """Telegram's language_code ('ru', 'ru-RU', 'en-GB', None) -> 'ru' | 'en' (as bots/handlers does)."""
    return "ru" if (code or "").lower().startswith("ru") else "en"


def end_user_language(*, telegram_code: str | None, texts: Sequence[str] = ()) -> str:
    """The language the end user writes in (their latest real message), else their Telegram language."""
    fallback = telegram_language(telegram_code)
    for text in texts:
        if text and not text.startswith(("/", "[")):
            return detect_language(text, default=fallback)
    return fallback


def end_user_text(key: str, language: str) -> str:
    return END_USER_TEXTS[key]["ru" if language == "ru" else "en"]


async def _dialog_language(session: AsyncSession, dialog: Dialog) -> str:
    rows = await session.execute(sa.select(Message.text).where(Message.dialog_id == dialog.id, Message.role == "user")
                                 .order_by(Message.created_at.desc()).limit(3))
    return end_user_language(telegram_code=dialog.user_language, texts=list(rows.scalars()))


# --- live events ---------------------------------------------------------------------------------------


def status_event(dialog: Dialog) -> dict[str, str]:
    return {"type": "status", "dialog_id": str(dialog.id), "owner_id": str(dialog.owner_id), "status": dialog.status}


def message_event(*, dialog_id: uuid.UUID, owner_id: uuid.UUID, role: str, message_id: uuid.UUID | None = None,
                  delivery_status: str = "") -> dict[str, str]:
    event = {"type": "message", "dialog_id": str(dialog_id), "owner_id": str(owner_id), "role": role}
    if message_id is not None:
        event.update(message_id=str(message_id), delivery_status=delivery_status)
    return event


async def publish_events(events: list[dict[str, str]], *, deliver: tuple[uuid.UUID, uuid.UUID] | None = None) -> None:
    """After commit, best effort: live views (chatai:dialogs) and, with `deliver` = (bot_id, dialog_id), the
    runner owning that bot. A lost publish only delays: views reload from the database, runners sweep."""
    from chatai.cache import get_redis

    try:
        async with get_redis().pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(DIALOG_EVENTS_CHANNEL, json.dumps(event))
            if deliver is not None:
                pipe.publish(DELIVERY_CHANNEL, json.dumps({"bot_id": str(deliver[0]), "dialog_id": str(deliver[1])}))
            await pipe.execute()
    except Exception:  # noqa: BLE001 - see above
        log.debug("handoff events not published", exc_info=True)


# --- state changes -------------------------------------------------------------------------------------


async def _lock(session: AsyncSession, dialog_id: uuid.UUID, owner_id: uuid.UUID | None = None) -> Dialog:
    """The dialog row, locked until commit; HandoffError('not_found') for another owner's dialog too."""
    dialog = (await session.execute(sa.select(Dialog).where(Dialog.id == dialog_id).with_for_update()
                                    .execution_options(populate_existing=True))).scalar_one_or_none()
    if dialog is None or (owner_id is not None and dialog.owner_id != owner_id):
        await session.rollback()
        raise HandoffError("not_found")
    return dialog


async def _refuse(session: AsyncSession, code: str) -> HandoffError:
    await session.rollback()  # drop the row lock at once
    return HandoffError(code)


def _system(dialog: Dialog, event: str, now: datetime, operator_id: uuid.UUID | None = None) -> Message:
    return Message(dialog_id=dialog.id, role="system", text=event, operator_id=operator_id, created_at=now)


def _deliverable(dialog: Dialog) -> bool:
    """An operator reply goes out through the dialog's bot: its own chat, or a business chat of the owner's
    account (through the dialog's business connection)."""
    return dialog.channel in ("telegram", "business") and dialog.bot_id is not None \
        and dialog.telegram_chat_id is not None


def _notice_deliverable(dialog: Dialog) -> bool:
    """The release/timeout notices ("back with the AI") only where the customer knows they talk to a bot:
    in the owner's own account the AI resumes without announcing itself."""
    return dialog.channel == "telegram" and _deliverable(dialog)


async def request_handoff(session: AsyncSession, *, dialog_id: uuid.UUID, reason: str) -> bool:
    """'ai' -> 'waiting' with the reason's system notice; False (nothing changed) when the dialog is already
    waiting or held, or the assistant's settings turn this reason off (balance_zero always applies).
    The caller tells the end user (the bot handler's reply, the billing notice)."""
    return await start_handoff(session, dialog_id=dialog_id, reason=reason) == "started"


async def start_handoff(session: AsyncSession, *, dialog_id: uuid.UUID, reason: str, force: bool = False) -> str:
    """request_handoff with the outcome: started | already (waiting or held) | off (settings) | missing.
    `force` ignores the settings: the end user was already promised a person (a question a zero balance left
    waiting that the assistant still cannot answer after the top-up, services/topup_resume.py)."""
    if reason not in REASON_EVENTS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    row = (await session.execute(
        sa.select(Dialog, Assistant.handoff_enabled, Assistant.handoff_on_low_confidence)
        .join(Assistant, Assistant.id == Dialog.assistant_id).where(Dialog.id == dialog_id)
        .with_for_update(of=Dialog).execution_options(populate_existing=True))).first()
    if row is None:
        await session.rollback()
        return "missing"
    dialog, enabled, on_low_confidence = row
    if dialog.status != "ai":
        await session.rollback()
        return "already"
    turned_off = ((reason == "user" and not enabled)
                  or (reason == "low_confidence" and not (enabled and on_low_confidence)))
    if turned_off and not force:
        await session.rollback()
        return "off"
    now = utcnow()
    dialog.status, dialog.handoff_at, dialog.operator_id, dialog.operator_active_at = "waiting", now, None, None
    session.add(dialog)
    session.add(_system(dialog, REASON_EVENTS[reason], now))
    if reason != "balance_zero":  # the owner's mail; the zero-balance alert already says this one
        await notifications.handoff_waiting(session, owner_id=dialog.owner_id, assistant_id=dialog.assistant_id)
    await session.commit()
    await publish_events([status_event(dialog), message_event(dialog_id=dialog.id, owner_id=dialog.owner_id,
                                                              role="system")])
    return "started"


async def take_over(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                    operator_id: uuid.UUID) -> None:
    """The operator holds the dialog: the AI goes silent. Taking one's own dialog again is a no-op; one held
    by another operator is refused (the row lock makes concurrent take-overs end with one holder)."""
    dialog = await _lock(session, dialog_id, owner_id)
    if dialog.status == "human" and dialog.operator_id is not None:
        if dialog.operator_id == operator_id:
            await session.rollback()
            return
        raise await _refuse(session, "held_by_other")
    now = utcnow()
    dialog.status, dialog.operator_id, dialog.operator_active_at = "human", operator_id, now
    dialog.handoff_at = dialog.handoff_at or now
    session.add(dialog)
    session.add(_system(dialog, "taken_over", now, operator_id))
    await session.commit()
    await publish_events([status_event(dialog), message_event(dialog_id=dialog.id, owner_id=owner_id, role="system")])


async def _back_to_ai(session: AsyncSession, dialog: Dialog, *, event: str, notice: str,
                      operator_id: uuid.UUID | None = None) -> tuple[list[dict[str, str]], tuple | None]:
    """'waiting'/'human' -> 'ai', the system notice, and the end user's notice queued for delivery (same
    transaction). Returns what to publish after the caller commits."""
    now = utcnow()
    language = await _dialog_language(session, dialog)
    dialog.status, dialog.operator_id, dialog.handoff_at, dialog.operator_active_at = "ai", None, None, None
    dialog.last_message_at = now
    session.add(dialog)
    session.add(_system(dialog, event, now, operator_id))
    deliver = None
    if _notice_deliverable(dialog):
        session.add(Message(dialog_id=dialog.id, role="assistant", answered_by="notice",
                            text=end_user_text(notice, language), delivery_status="pending",
                            created_at=now + timedelta(milliseconds=1)))
        deliver = (dialog.bot_id, dialog.id)
    events = [status_event(dialog), message_event(dialog_id=dialog.id, owner_id=dialog.owner_id, role="system")]
    return events, deliver


async def release(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                  operator_id: uuid.UUID) -> None:
    """Back to the AI with a short notice to the end user. A waiting dialog (nobody holds it) may be released
    by the owner too; a dialog held by another operator may not."""
    dialog = await _lock(session, dialog_id, owner_id)
    if dialog.status == "ai":
        raise await _refuse(session, "not_held")
    if dialog.status == "human" and dialog.operator_id not in (None, operator_id):
        raise await _refuse(session, "held_by_other")
    events, deliver = await _back_to_ai(session, dialog, event="released", notice="released", operator_id=operator_id)
    await session.commit()
    await publish_events(events, deliver=deliver)


def _text_length(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)  # Telegram counts UTF-16 units


async def send_operator_message(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                                operator_id: uuid.UUID, text: str) -> uuid.UUID:
    """Record the operator's reply 'pending' and have the runner owning the bot send it (it turns 'sent' or
    'failed' with a reason, published live). Only the operator holding the dialog may reply."""
    text = db_safe(text or "").strip()
    if not text:
        raise HandoffError("empty_text")
    if _text_length(text) > MAX_OPERATOR_TEXT:
        raise HandoffError("too_long")
    dialog = await _lock(session, dialog_id, owner_id)
    if dialog.status != "human" or dialog.operator_id is None:
        raise await _refuse(session, "not_held")
    if dialog.operator_id != operator_id:
        raise await _refuse(session, "held_by_other")
    deliver = _deliverable(dialog)
    if deliver:
        bot = await session.get(Bot, dialog.bot_id)
        if bot is None or bot.desired_state != "running":
            raise await _refuse(session, "bot_unavailable")
    elif dialog.channel in ("telegram", "business"):  # its bot was disconnected
        raise await _refuse(session, "bot_unavailable")
    now = utcnow()
    message = Message(dialog_id=dialog.id, role="operator", text=text, answered_by="operator",
                      operator_id=operator_id, delivery_status="pending" if deliver else "", created_at=now)
    dialog.operator_active_at = dialog.last_message_at = now
    session.add(message)
    session.add(dialog)
    await session.commit()
    await publish_events([message_event(dialog_id=dialog.id, owner_id=owner_id, role="operator",
                                        message_id=message.id, delivery_status=message.delivery_status)],
                         deliver=(dialog.bot_id, dialog.id) if deliver else None)
    return message.id


# --- the runners' side: timeouts and delivery ------------------------------------------------------------

# A NULL clock would never time out: start it (a writer that set 'waiting' without handoff_at).
_START_CLOCKS = sa.text("""
    UPDATE dialogs SET handoff_at = now() WHERE status IN ('waiting', 'human') AND handoff_at IS NULL
""")
# On ix_dialogs_status_handoff: both states, and a constant bound on handoff_at (every clock starts at or
# after it, and no timeout is shorter than a minute) before the per-assistant comparison.
_DUE = sa.text("""
    SELECT d.id FROM dialogs d JOIN assistants a ON a.id = d.assistant_id
    WHERE d.status IN ('waiting', 'human') AND d.handoff_at < :now - make_interval(mins => :min_minutes)
      AND (d.bot_id = ANY(CAST(:bots AS uuid[])) OR d.bot_id IS NULL)
      AND CASE WHEN d.status = 'human' THEN greatest(d.handoff_at, d.operator_active_at) ELSE d.handoff_at END
          < :now - make_interval(mins => greatest(a.handoff_timeout_minutes, :min_minutes))
    ORDER BY d.handoff_at
    LIMIT :limit
""")


def _clock(dialog: Dialog) -> datetime | None:
    if dialog.status == "human" and dialog.operator_active_at is not None and dialog.handoff_at is not None:
        return max(dialog.handoff_at, dialog.operator_active_at)
    return dialog.handoff_at


async def due_timeouts(session: AsyncSession, *, bot_ids: list[uuid.UUID], now: datetime | None = None,
                       limit: int = 100) -> list[uuid.UUID]:
    """Dialogs of these bots (or of no bot any more) whose handoff ran past its assistant's timeout."""
    await session.execute(_START_CLOCKS)
    rows = await session.execute(_DUE, {"now": now or utcnow(), "bots": uuid_array(bot_ids),
                                        "min_minutes": MIN_TIMEOUT_MINUTES, "limit": limit})
    await session.commit()
    return list(rows.scalars())


async def time_out(session: AsyncSession, *, dialog_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Back to the AI with an apology, if still due under the row lock (an operator may just have taken
    over or replied: then nothing happens)."""
    now = now or utcnow()
    try:
        dialog = await _lock(session, dialog_id)
    except HandoffError:
        return False
    timeout = await session.scalar(sa.select(Assistant.handoff_timeout_minutes)
                                   .where(Assistant.id == dialog.assistant_id))
    clock = _clock(dialog)
    minutes = max(int(timeout or 0), MIN_TIMEOUT_MINUTES)
    if dialog.status not in ("waiting", "human") or clock is None or clock + timedelta(minutes=minutes) > now:
        await session.rollback()
        return False
    events, deliver = await _back_to_ai(session, dialog, event="timed_out", notice="timed_out")
    await session.commit()
    await publish_events(events, deliver=deliver)
    return True
