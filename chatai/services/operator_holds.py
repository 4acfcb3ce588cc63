"""What a linked Telegram operator does to a dialog (issue 22 part 1): take over, reply, hand back; and what
the runner reads to alert operators and to pass them the customer's messages.

A Telegram operator acts for the owner who linked it, so the dialog rules stay those of services/handoff.py
(the dialog's operator_id is the owner, replies are operator messages delivered by the customer's bot's
runner, releases queue the end user's notice). This module adds who, among the owner's Telegram operators,
holds the dialog (operator_holds), under the same row lock, so exactly one of them holds it. A dialog held
from the dashboard (status 'human' with no hold row) is held by the owner there: Telegram operators are
told so and refused.

Every function is given the acting TelegramOperator row and refuses (HoldRefused) a dialog of another owner
as 'not_found', exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.id_arrays import any_of
from chatai.db.models import Bot, Dialog, Message, utcnow
from chatai.db.operator_models import OperatorChatMessage, OperatorHold, TelegramOperator
from chatai.services import handoff

REFUSALS = ("not_found", "held_by_other", "held_in_dashboard", "not_held", "empty_text", "too_long",
            "bot_unavailable")


class HoldRefused(Exception):
    """`code` is one of REFUSALS; `holder` names the operator holding the dialog for 'held_by_other'."""

    def __init__(self, code: str, holder: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.holder = holder


async def _lock(session: AsyncSession, operator: TelegramOperator, dialog_id: uuid.UUID
                ) -> tuple[Dialog, OperatorHold | None, str]:
    """The dialog locked until commit, its (valid) hold and the holder's name; another owner's is not_found."""
    dialog = (await session.execute(sa.select(Dialog).where(Dialog.id == dialog_id).with_for_update()
                                    .execution_options(populate_existing=True))).scalar_one_or_none()
    if dialog is None or dialog.owner_id != operator.owner_id:
        await session.rollback()
        raise HoldRefused("not_found")
    row = (await session.execute(sa.select(OperatorHold, TelegramOperator.name)
                                 .join(TelegramOperator, TelegramOperator.id == OperatorHold.operator_id)
                                 .where(OperatorHold.dialog_id == dialog_id)
                                 .execution_options(populate_existing=True))).first()
    hold, name = (row[0], row[1]) if row is not None and dialog.status == "human" else (None, "")
    if row is not None and hold is None:  # stale: the dialog went back to the AI meanwhile
        await session.delete(row[0])
    return dialog, hold, name


def _refuse_unless_mine(dialog: Dialog, hold: OperatorHold | None, name: str, operator: TelegramOperator) -> None:
    if dialog.status == "human" and hold is None:
        raise HoldRefused("held_in_dashboard")
    if hold is not None and hold.operator_id != operator.id:
        raise HoldRefused("held_by_other", holder=name)


async def take_over(session: AsyncSession, *, operator: TelegramOperator, dialog_id: uuid.UUID) -> bool:
    """The operator holds the dialog (the AI goes silent). True when taken now, False when it already held
    it; refused when another operator (or the dashboard) holds it."""
    dialog, hold, name = await _lock(session, operator, dialog_id)
    try:
        _refuse_unless_mine(dialog, hold, name, operator)
    except HoldRefused:
        await session.rollback()
        raise
    if hold is not None:
        await session.rollback()
        return False
    now = utcnow()
    dialog.status, dialog.operator_id, dialog.operator_active_at = "human", operator.owner_id, now
    dialog.handoff_at = dialog.handoff_at or now
    session.add(dialog)
    session.add(Message(dialog_id=dialog.id, role="system", text="taken_over", operator_id=operator.owner_id,
                        created_at=now))
    await session.execute(insert(OperatorHold).values(dialog_id=dialog.id, operator_id=operator.id, taken_at=now,
                                                      forwarded_until=now)
                          .on_conflict_do_update(index_elements=["dialog_id"],
                                                 set_={"operator_id": operator.id, "taken_at": now,
                                                       "forwarded_until": now}))
    await session.commit()
    await handoff.publish_events([handoff.status_event(dialog), handoff.message_event(
        dialog_id=dialog.id, owner_id=dialog.owner_id, role="system")])
    return True


async def release(session: AsyncSession, *, operator: TelegramOperator, dialog_id: uuid.UUID) -> None:
    """Back to the AI (services/handoff.release: the end user's notice). A waiting dialog may be released by
    any of the owner's operators; a held one only by its holder."""
    dialog, hold, name = await _lock(session, operator, dialog_id)
    try:
        _refuse_unless_mine(dialog, hold, name, operator)
        if dialog.status == "ai":
            raise HoldRefused("not_held")
    except HoldRefused:
        await session.rollback()
        raise
    if hold is not None:
        await session.delete(hold)
    await session.commit()
    try:
        await handoff.release(session, owner_id=operator.owner_id, dialog_id=dialog_id, operator_id=operator.owner_id)
    except handoff.HandoffError as exc:
        raise HoldRefused(exc.code) from None


async def reply(session: AsyncSession, *, operator: TelegramOperator, dialog_id: uuid.UUID, text: str
                ) -> uuid.UUID:
    """The operator's reply to the customer, taking the dialog over first when nobody holds it."""
    await take_over(session, operator=operator, dialog_id=dialog_id)
    try:
        return await handoff.send_operator_message(session, owner_id=operator.owner_id, dialog_id=dialog_id,
                                                   operator_id=operator.owner_id, text=text)
    except handoff.HandoffError as exc:
        raise HoldRefused(exc.code) from None


async def held_by(session: AsyncSession, *, operator: TelegramOperator) -> list[uuid.UUID]:
    """The dialogs this operator holds now (oldest hold first)."""
    rows = await session.execute(sa.select(OperatorHold.dialog_id).join(Dialog, Dialog.id == OperatorHold.dialog_id)
                                 .where(OperatorHold.operator_id == operator.id, Dialog.status == "human")
                                 .order_by(OperatorHold.taken_at))
    return list(rows.scalars())


async def telegram_holder(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID) -> str | None:
    """The name of the owner's Telegram operator holding the dialog, None when none does (the inbox refuses
    to take over or reply then, and says who answers in Telegram)."""
    row = (await session.execute(
        sa.select(TelegramOperator.name).join(OperatorHold, OperatorHold.operator_id == TelegramOperator.id)
        .join(Dialog, Dialog.id == OperatorHold.dialog_id)
        .where(OperatorHold.dialog_id == dialog_id, Dialog.owner_id == owner_id, Dialog.status == "human"))).first()
    return None if row is None else (row[0] or "Telegram")


async def drop_stale_holds(session: AsyncSession, *, dialog_id: uuid.UUID | None = None) -> int:
    """Holds of dialogs no longer 'human' (released or timed out from elsewhere)."""
    query = sa.delete(OperatorHold).where(OperatorHold.dialog_id == Dialog.id, Dialog.status != "human")
    if dialog_id is not None:
        query = query.where(OperatorHold.dialog_id == dialog_id)
    result = await session.execute(query)
    await session.commit()
    return int(result.rowcount or 0)


# --- the operator chat's bookkeeping ---------------------------------------------------------------------


async def remember_chat_message(session: AsyncSession, *, operator_id: uuid.UUID, telegram_message_id: int,
                                dialog_id: uuid.UUID) -> None:
    await session.execute(insert(OperatorChatMessage).values(operator_id=operator_id,
                                                             telegram_message_id=telegram_message_id,
                                                             dialog_id=dialog_id, created_at=utcnow())
                          .on_conflict_do_nothing())
    await session.commit()


async def dialog_of_chat_message(session: AsyncSession, *, operator: TelegramOperator, telegram_message_id: int
                                 ) -> uuid.UUID | None:
    """The dialog an alert or a forwarded message in this operator's chat is about (its owner's only)."""
    return await session.scalar(
        sa.select(OperatorChatMessage.dialog_id).join(Dialog, Dialog.id == OperatorChatMessage.dialog_id)
        .where(OperatorChatMessage.operator_id == operator.id,
               OperatorChatMessage.telegram_message_id == telegram_message_id,
               Dialog.owner_id == operator.owner_id))


@dataclass(frozen=True)
class WaitingDialog:
    id: uuid.UUID
    user_name: str
    bot_username: str
    handoff_at: datetime
    recent: list[tuple[str, str]]  # (role, text), oldest first


RECENT_MESSAGES = 4


async def waiting_since(session: AsyncSession, *, owner_id: uuid.UUID, since: datetime, limit: int = 200
                        ) -> list[WaitingDialog]:
    """The owner's dialogs that started waiting after `since`, oldest first, with their last messages."""
    rows = (await session.execute(
        sa.select(Dialog.id, Dialog.user_name, Bot.username, Dialog.handoff_at)
        .outerjoin(Bot, Bot.id == Dialog.bot_id)
        .where(Dialog.owner_id == owner_id, Dialog.status == "waiting", Dialog.handoff_at > since)
        .order_by(Dialog.handoff_at).limit(limit))).all()
    result = []
    for dialog_id, user_name, bot_username, handoff_at in rows:
        recent = (await session.execute(
            sa.select(Message.role, Message.text).where(Message.dialog_id == dialog_id,
                                                        Message.role.in_(("user", "assistant", "operator")))
            .order_by(Message.created_at.desc()).limit(RECENT_MESSAGES))).all()
        result.append(WaitingDialog(dialog_id, user_name or "", bot_username or "", handoff_at,
                                    [(r.role, r.text) for r in reversed(recent)]))
    await session.rollback()
    return result


async def set_alerted_until(session: AsyncSession, *, operator_id: uuid.UUID, until: datetime) -> None:
    await session.execute(sa.update(TelegramOperator).where(TelegramOperator.id == operator_id,
                                                            TelegramOperator.alerted_until < until)
                          .values(alerted_until=until))
    await session.commit()


@dataclass(frozen=True)
class Forward:
    operator: TelegramOperator
    user_name: str
    messages: list[tuple[uuid.UUID, str, datetime]]  # (message id, text, created_at)


async def to_forward(session: AsyncSession, *, dialog_id: uuid.UUID) -> Forward | None:
    """The customer's messages the dialog's Telegram holder has not been sent yet (None: no holder)."""
    row = (await session.execute(
        sa.select(OperatorHold, TelegramOperator, Dialog.user_name)
        .join(TelegramOperator, TelegramOperator.id == OperatorHold.operator_id)
        .join(Dialog, Dialog.id == OperatorHold.dialog_id)
        .where(OperatorHold.dialog_id == dialog_id, Dialog.status == "human"))).first()
    if row is None:
        await session.rollback()
        return None
    hold, operator, user_name = row
    session.expunge(operator)
    messages = (await session.execute(
        sa.select(Message.id, Message.text, Message.created_at)
        .where(Message.dialog_id == dialog_id, Message.role == "user", Message.created_at > hold.forwarded_until)
        .order_by(Message.created_at))).all()
    await session.rollback()
    return Forward(operator, user_name or "", [(m[0], m[1], m[2]) for m in messages])


async def set_forwarded_until(session: AsyncSession, *, dialog_id: uuid.UUID, until: datetime) -> None:
    await session.execute(sa.update(OperatorHold).where(OperatorHold.dialog_id == dialog_id,
                                                        OperatorHold.forwarded_until < until)
                          .values(forwarded_until=until))
    await session.commit()


async def operators_of_bot(session: AsyncSession, *, bot_id: uuid.UUID) -> dict[int, TelegramOperator]:
    """This bot's linked operators by Telegram user id (the runner's routing cache)."""
    rows = await session.execute(sa.select(TelegramOperator).where(TelegramOperator.bot_id == bot_id))
    result = {op.telegram_user_id: op for op in rows.scalars()}
    session.expunge_all()  # plain values from here on (a rollback would expire them)
    await session.rollback()
    return result


async def operators_of_owner(session: AsyncSession, *, owner_id: uuid.UUID, bot_ids: list[uuid.UUID]
                             ) -> list[TelegramOperator]:
    """The owner's operators reached through these bots (the ones a runner runs)."""
    rows = await session.execute(sa.select(TelegramOperator).where(TelegramOperator.owner_id == owner_id,
                                                                   any_of(TelegramOperator.bot_id, bot_ids)))
    result = list(rows.scalars())
    session.expunge_all()
    await session.rollback()
    return result


async def alerted_already(session: AsyncSession, *, operator_id: uuid.UUID, waiting: list[WaitingDialog]
                          ) -> set[uuid.UUID]:
    """Of these waiting dialogs, the ones this operator got an alert for since they started waiting: an
    alert round retried after a failure sends only the rest (never one twice)."""
    if not waiting:
        return set()
    rows = await session.execute(
        sa.select(OperatorChatMessage.dialog_id).join(Dialog, Dialog.id == OperatorChatMessage.dialog_id)
        .where(OperatorChatMessage.operator_id == operator_id,
               OperatorChatMessage.dialog_id.in_([d.id for d in waiting]),
               OperatorChatMessage.created_at >= Dialog.handoff_at))
    result = set(rows.scalars())
    await session.rollback()
    return result


async def owners_owing_alerts(session: AsyncSession, *, bot_ids: list[uuid.UUID], before: datetime
                              ) -> list[uuid.UUID]:
    """Owners with an operator (reached through these bots) not yet alerted about a dialog that started
    waiting before `before`: an alert that failed, or one a runner died before sending."""
    if not bot_ids:
        return []
    rows = await session.execute(
        sa.select(TelegramOperator.owner_id).distinct()
        .join(Dialog, sa.and_(Dialog.owner_id == TelegramOperator.owner_id, Dialog.status == "waiting",
                              Dialog.handoff_at > TelegramOperator.alerted_until, Dialog.handoff_at <= before))
        .where(any_of(TelegramOperator.bot_id, bot_ids)))
    result = list(rows.scalars())
    await session.rollback()
    return result


async def dialogs_owing_forwards(session: AsyncSession, *, bot_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Dialogs held by operators reached through these bots whose customer wrote something the holder was not sent (a
    forward Telegram did not take, a runner that died before sending it)."""
    if not bot_ids:
        return []
    owed = (sa.select(sa.literal(1)).where(Message.dialog_id == OperatorHold.dialog_id, Message.role == "user",
                                           Message.created_at > OperatorHold.forwarded_until).exists())
    rows = await session.execute(
        sa.select(OperatorHold.dialog_id).join(Dialog, Dialog.id == OperatorHold.dialog_id)
        .join(TelegramOperator, TelegramOperator.id == OperatorHold.operator_id)
        .where(any_of(TelegramOperator.bot_id, bot_ids), Dialog.status == "human", owed))
    result = list(rows.scalars())
    await session.rollback()
    return result
