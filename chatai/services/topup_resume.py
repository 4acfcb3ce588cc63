"""Questions a zero balance left waiting, answered once money is back.

At a zero balance the runner tells the customer "a person will answer" and the dialog waits
(bots/charging.refuse, reason 'balance_zero'). When a credit (payment, admin adjustment, promo) brings the
available money back to at least one answer, `after_credit` (called by services/billing inside the credit's
transaction) hands every dialog that waited ONLY for the balance (nobody took it, the last system notice
is still 'balance_zero') back to the AI and marks its last unanswered question's update 'resuming'.

The runner owning the bot claims 'resuming' updates (`claim`: one conditional UPDATE, so exactly one runner
claims each, once) and answers them through the normal pipeline (handlers.respond: reserved, charged,
delivered, marked answered). Why a status of its own rather than 'received': the runner remembers which
updates it handled (BotWorker._done) and skips them in recovery; the claim tells it to forget this one.
The web process nudges the runner over Redis (RESUME_CHANNEL) after the commit; the operator desk's sweep
claims what a lost nudge or a runner restart left, and a claimed update is an ordinary 'received' one, so
a runner dying after the claim leaves it to the crash recovery that already covers every answer.

Two top-ups landing together are serialized by the account row the credit locks; the dialog rows are
locked too and re-checked, so a question is handed back once. If the assistant still cannot answer it
("don't know"), the dialog waits for a person again whatever the handoff settings say (the customer was
promised one) and the owner is told (handoff mail and a dashboard notification): never silence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Message, Notification, User, utcnow
from chatai.db.money_models import BillingAccount
from chatai.services.dialogs import RESUMED_EVENT

log = logging.getLogger(__name__)

RESUME_CHANNEL = "chatai:billing:resume"  # {"bot_id"}: the runner owning the bot claims its resumed questions
RESUMING = "resuming"  # telegram_updates.status of a question handed back after a top-up, not claimed yet
SETTLED = ("answered", "ignored")  # updates done with (the refusal notice sent, or muted while waiting)
ANSWERED_BY = ("llm", "qa", "extractive", "fallback")  # an assistant reply that answered (or said it cannot)
_published: set[asyncio.Task] = set()  # strong references to after-commit publishes in flight

# Dialogs that wait only because the balance ran out: nobody took them and nothing else happened since.
_WAITING_FOR_BALANCE = sa.text("""
    SELECT d.id, d.bot_id FROM dialogs d
    WHERE d.owner_id = :owner AND d.status = 'waiting' AND d.operator_id IS NULL
      AND (SELECT m.text FROM messages m WHERE m.dialog_id = d.id AND m.role = 'system'
           ORDER BY m.created_at DESC LIMIT 1) = 'balance_zero'
    ORDER BY d.id
    FOR UPDATE OF d
""")
# The customer's latest text question no reply answered (commands and non-text messages are not questions).
_LAST_UNANSWERED = sa.text("""
    SELECT u.telegram_update_id, t.status FROM messages u
    JOIN telegram_updates t ON t.bot_id = :bot AND t.update_id = u.telegram_update_id
    WHERE u.dialog_id = :dialog AND u.role = 'user' AND u.text NOT LIKE '/%' AND u.text NOT LIKE '[%'
      AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.dialog_id = u.dialog_id AND r.created_at > u.created_at
                      AND (r.role = 'operator' OR (r.role = 'assistant' AND r.answered_by = ANY(:answered))))
    ORDER BY u.created_at DESC LIMIT 1
""")

OWNER_TEXT = {  # the dashboard notification when a resumed question still needs a person (stored per locale)
    "en": "A customer's question from while the balance was empty could not be answered by the assistant: "
          "the conversation waits for a person in the inbox.",
    "ru": "Ассистент не смог ответить на вопрос клиента, заданный при нулевом балансе: диалог ждёт "
          "сотрудника во входящих.",
}


@dataclass(frozen=True)
class Resumed:
    dialog_id: uuid.UUID
    bot_id: uuid.UUID | None
    update_id: int | None  # the question handed back; None when there was none to answer


async def _enough_money(session: AsyncSession, account_id: uuid.UUID) -> bool:
    """At least one answer's worth available (answers free: always); less would be refused again at once."""
    from chatai.services.billing import price_at

    account = await session.get(BillingAccount, account_id, populate_existing=True)
    available = (account.balance_micros - account.reserved_micros) if account else 0
    price = max(await price_at(session, item="answer"), await price_at(session, item="qa_answer"))
    return available > 0 and available >= price


async def after_credit(session: AsyncSession, *, account_id: uuid.UUID) -> list[Resumed]:
    """Money came in (inside the caller's transaction, after the movement): hand the dialogs that waited only
    for the balance back to the AI, their last unanswered question to the runner; publish after the commit."""
    if not await _enough_money(session, account_id):
        return []
    now = utcnow()
    resumed: list[Resumed] = []
    for dialog_id, bot_id in (await session.execute(_WAITING_FOR_BALANCE, {"owner": account_id})).all():
        update_id, update_status = None, None
        if bot_id is not None:
            row = (await session.execute(_LAST_UNANSWERED, {"bot": bot_id, "dialog": dialog_id,
                                                            "answered": list(ANSWERED_BY)})).first()
            if row is not None:
                update_id, update_status = row
        if update_status == "received":
            # Its refusal notice is still being sent: resuming now would race that mark. A person answers
            # (the customer was told so); the zero-balance alert stays unread for the owner.
            continue
        if update_status not in SETTLED:
            update_id = None  # 'failed': a message that broke the answer path repeatedly is not tried again
        if update_id is not None:
            await session.execute(sa.text(
                "UPDATE telegram_updates SET status = :resuming WHERE bot_id = :bot AND update_id = :upd"
                " AND status = ANY(:settled)"),
                {"resuming": RESUMING, "bot": bot_id, "upd": update_id, "settled": list(SETTLED)})
            # The refusal notice was this update's reply: detached, so the runner answers instead of re-sending it.
            await session.execute(sa.text(
                "UPDATE messages SET telegram_update_id = NULL WHERE dialog_id = :dialog AND role = 'assistant' "
                "AND telegram_update_id = :upd"), {"dialog": dialog_id, "upd": update_id})
        await session.execute(sa.text(
            "UPDATE dialogs SET status = 'ai', handoff_at = NULL, operator_active_at = NULL WHERE id = :dialog"),
            {"dialog": dialog_id})
        session.add(Message(dialog_id=dialog_id, role="system", text=RESUMED_EVENT, created_at=now))
        resumed.append(Resumed(dialog_id, bot_id, update_id))
    if resumed or not await _still_waiting(session, account_id):
        await session.execute(sa.update(Notification).where(
            Notification.user_id == account_id, Notification.kind == "balance_zero", Notification.read_at.is_(None))
            .values(read_at=now))
    if resumed:
        _publish_after_commit(session, owner_id=account_id, resumed=resumed)
    return resumed


async def _still_waiting(session: AsyncSession, account_id: uuid.UUID) -> bool:
    return (await session.execute(_WAITING_FOR_BALANCE, {"owner": account_id})).first() is not None


def _publish_after_commit(session: AsyncSession, *, owner_id: uuid.UUID, resumed: list[Resumed]) -> None:
    """Nudges go out only once the transaction committed (a runner must find the rows); a rollback drops them."""
    sync = session.sync_session

    def committed(_session: object) -> None:
        sa.event.remove(sync, "after_rollback", rolled_back)
        try:
            task = asyncio.get_running_loop().create_task(publish(owner_id=owner_id, resumed=resumed))
        except RuntimeError:  # no loop (a synchronous caller): the runners' sweep claims them
            return
        _published.add(task)
        task.add_done_callback(_published.discard)

    def rolled_back(_session: object) -> None:
        sa.event.remove(sync, "after_commit", committed)

    sa.event.listen(sync, "after_commit", committed, once=True)
    sa.event.listen(sync, "after_rollback", rolled_back, once=True)


async def publish(*, owner_id: uuid.UUID, resumed: Sequence[Resumed]) -> None:
    """Best effort: live views see the dialogs back with the AI; the runners owning the bots claim now."""
    from chatai.cache import get_redis
    from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

    try:
        async with get_redis().pipeline(transaction=False) as pipe:
            for item in resumed:
                pipe.publish(DIALOG_EVENTS_CHANNEL, json.dumps({"type": "status", "dialog_id": str(item.dialog_id),
                                                                "owner_id": str(owner_id), "status": "ai"}))
            for bot_id in dict.fromkeys(r.bot_id for r in resumed if r.update_id is not None):
                pipe.publish(RESUME_CHANNEL, json.dumps({"bot_id": str(bot_id)}))
            await pipe.execute()
    except Exception:  # noqa: BLE001 - the runners' sweep claims them a few seconds later
        log.debug("resume nudges not published", exc_info=True)


_CLAIM = sa.text("""
    UPDATE telegram_updates SET status = 'received'
    WHERE status = :resuming AND bot_id = ANY(:bots)
    RETURNING bot_id, update_id
""")


async def claim(conn: AsyncConnection, *, bot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    """The resumed questions of these bots, now owed like any received update (autocommit connection: one
    statement; exactly one caller gets each)."""
    if not bot_ids:
        return {}
    found: dict[uuid.UUID, list[int]] = {}
    for bot_id, update_id in (await conn.execute(_CLAIM, {"resuming": RESUMING, "bots": list(bot_ids)})).all():
        found.setdefault(bot_id, []).append(int(update_id))
    return found


async def tell_owner_unanswered(session: AsyncSession, *, owner_id: uuid.UUID) -> None:
    """A resumed question the assistant could not answer waits for a person: the owner's dashboard says so."""
    user = await session.get(User, owner_id)
    locale = user.locale if user is not None and user.locale in OWNER_TEXT else "en"
    session.add(Notification(user_id=owner_id, kind="handoff_waiting", text=OWNER_TEXT[locale]))
