"""A linked operator's side of a bot's chat (issue 22 part 1): what the runner does with their updates.

An update is the operator chat's, never a customer's question (never answered by the AI, never charged),
when it is a button press (callback_query), an operator link being opened (`/start op_…`), or a message
from an account linked as an operator of this bot. The poll loop and the webhook route ask first
(operator_updates.py): an operator's update is stored before it is acknowledged, then handled once here:
- `/start op_<code>`: link the account (services/operator_links.redeem), answer with a sentence;
- a reply to an alert or to a forwarded customer message: the text goes to that customer through the
  dialog's own bot as an operator reply, taking the dialog over when nobody holds it;
- `/release` (as a reply: that dialog; else every dialog the operator holds): back to the AI;
- the buttons "Take over" / "Return to AI" (callback data `op:t:<dialog>` / `op:r:<dialog>`).
The operator's sentences are in the owner's language (texts/operators.py), sent without parse mode.
Who is an operator of a bot is cached per bot for OPERATOR_CACHE_TTL, dropped at once on a change
published by services/operator_links (operator_alerts.py listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from chatai.bots.contracts import LeaseLost
from chatai.bots.logsafe import describe
from chatai.bots.throttle import retry_after_seconds
from chatai.db.models import User
from chatai.db.operator_models import TelegramOperator
from chatai.services import operator_holds, operator_links
from chatai.services.operator_holds import HoldRefused

if TYPE_CHECKING:
    from chatai.bots.contracts import Worker

log = logging.getLogger(__name__)

OPERATOR_CACHE_TTL = 30.0
CALLBACK_TAKE, CALLBACK_RELEASE = "op:t:", "op:r:"
INLINE_TRIES = 3  # sends of one message before it is handed back to be retried later
INLINE_RETRY_AFTER = 5.0  # a 429 asking to wait longer than this is retried later, not waited out here
_cache: dict[uuid.UUID, tuple[float, dict[int, TelegramOperator]]] = {}


def forget_operators(bot_id: uuid.UUID | None = None) -> None:
    """Drop the cached operators of a bot (all bots when None): they changed."""
    if bot_id is None:
        _cache.clear()
    else:
        _cache.pop(bot_id, None)


async def operators_of(worker: Worker) -> dict[int, TelegramOperator]:
    cached = _cache.get(worker.id)
    if cached is not None and time.monotonic() - cached[0] < OPERATOR_CACHE_TTL:
        return cached[1]
    async with worker.runner.session() as session:
        operators = await operator_holds.operators_of_bot(session, bot_id=worker.id)
    _cache[worker.id] = (time.monotonic(), operators)
    return operators


def sender_id(update: dict[str, Any]) -> int | None:
    for key in ("message", "callback_query"):
        item = update.get(key)
        if isinstance(item, dict) and isinstance(item.get("from"), dict):
            return int(item["from"]["id"])
    return None


async def is_operator_update(worker: Worker, update: dict[str, Any]) -> bool:
    if isinstance(update.get("callback_query"), dict):
        return True
    message = update.get("message")
    if not isinstance(message, dict) or (message.get("chat") or {}).get("type", "private") != "private":
        return False  # operators work in their private chat with the bot; groups stay the customers'
    if operator_links.is_link_payload(str(message.get("text") or "")):
        return True
    sender = sender_id(update)
    return sender is not None and sender in await operators_of(worker)


async def handle(worker: Worker, update: dict[str, Any]) -> None:
    try:
        if isinstance(update.get("callback_query"), dict):
            await _on_button(worker, update["callback_query"])
        else:
            await _on_message(worker, update["message"])
    except (asyncio.CancelledError, LeaseLost):
        raise  # lost: the runner that owns the bot now handles the stored update (operator_updates.py)
    except Exception as exc:  # noqa: BLE001 - one operator update never affects the bot's customers
        log.warning("bot %s: operator update %s not handled: %s", worker.id, update.get("update_id"), describe(exc))


# --- texts and sending -------------------------------------------------------------------------------------


def say(locale: str, key: str, **values: object) -> str:
    from chatai.web.i18n import text

    return text(locale, key, **values)


async def owner_locale(worker: Worker, owner_id: uuid.UUID) -> str:
    async with worker.runner.session() as session:
        locale = await session.scalar(sa.select(User.locale).where(User.id == owner_id))
    return locale or "en"


class SendLater(Exception):
    """Telegram did not take the message for now (network, 5xx, 429): try again after `retry_after` s."""

    def __init__(self, retry_after: float = 0.0) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class OperatorBlocked(Exception):
    """403: the operator blocked the bot (or deleted the chat); retrying cannot help."""


class SendRefused(Exception):
    """400: Telegram refuses this message as it is (chat not found, text rejected): not retried."""


async def deliver(worker: Worker, chat_id: int, text: str, keyboard: list[list[dict[str, str]]] | None = None
                  ) -> int:
    """One plain-text message into an operator's chat (customer words inside stay text, never markup),
    through the bot's throttle and only while this runner holds the bot's lease; its message id. Raises
    LeaseLost, OperatorBlocked, SendRefused, or SendLater for the caller to try again: a 429 whose
    retry_after is short is waited out here (the chat's throttle is blocked meanwhile), a longer one is
    handed back with it."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text[:4096]}
    if keyboard:
        params["reply_markup"] = {"inline_keyboard": keyboard}
    retry_after = 0.0
    for _attempt in range(INLINE_TRIES):
        await worker.throttle.wait(chat_id)
        worker.check_lease()  # after the wait: the lease may have been lost while it waited
        try:
            return int((await worker.bot.send_message_raw(**params))["message_id"])
        except RetryAfter as exc:
            retry_after = retry_after_seconds(exc.retry_after)
            worker.throttle.block(chat_id, retry_after)
            if retry_after > INLINE_RETRY_AFTER:
                break
        except Forbidden as exc:
            raise OperatorBlocked() from exc
        except BadRequest as exc:
            raise SendRefused(describe(exc)) from exc
        except TelegramError as exc:  # network, 5xx, a token being replaced: later
            log.warning("bot %s: operator message not sent yet: %s", worker.id, describe(exc))
            raise SendLater() from exc
    raise SendLater(retry_after)


@contextlib.contextmanager
def refused_logged(worker: Worker) -> Iterator[None]:
    """Telegram refuses this message as it is (400): logged and passed over, never retried."""
    try:
        yield
    except SendRefused as exc:
        log.warning("bot %s: operator message refused by Telegram: %s", worker.id, exc)


async def send(worker: Worker, chat_id: int, text: str, keyboard: list[list[dict[str, str]]] | None = None
               ) -> int | None:
    """deliver() for what is said in answer to the operator (a refusal, a confirmation): their message id,
    None when Telegram did not take it (logged; the operator can ask again). LeaseLost is raised."""
    try:
        return await deliver(worker, chat_id, text, keyboard)
    except (OperatorBlocked, SendRefused, SendLater) as exc:
        log.warning("bot %s: operator message not sent: %s", worker.id, type(exc).__name__)
        return None


def inbox_link(dialog_id: uuid.UUID | None = None) -> str:
    """The dashboard's inbox (opened on the dialog): the alerts' "Open in dashboard" button."""
    from chatai.settings import get_settings

    base = f"{get_settings().public_url.rstrip('/')}/dashboard/inbox"
    return f"{base}?dialog={dialog_id}" if dialog_id else base


async def _keyboard_after_take_over(worker: Worker, query: dict[str, Any], locale: str, dialog_id: uuid.UUID
                                    ) -> None:
    """The pressed alert loses its "Take over" button (editMessageReplyMarkup): what is left is what the
    holder can still do. Best effort: the buttons keep working either way."""
    message = query.get("message") or {}
    if message.get("message_id") is None:
        return
    keyboard = InlineKeyboardMarkup([
        [InlineKeyboardButton(say(locale, "opchat_return"), callback_data=f"{CALLBACK_RELEASE}{dialog_id}")],
        [InlineKeyboardButton(say(locale, "opchat_open"), url=inbox_link(dialog_id))]])
    worker.check_lease()
    try:
        await worker.bot.edit_message_reply_markup(chat_id=int(message["chat"]["id"]),
                                                   message_id=int(message["message_id"]), reply_markup=keyboard)
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("bot %s: alert buttons not updated: %s", worker.id, describe(exc))


# --- messages ------------------------------------------------------------------------------------------------


async def _on_message(worker: Worker, message: dict[str, Any]) -> None:
    user = message.get("from") or {}
    chat_id = int(message["chat"]["id"])
    text = str(message.get("text") or "")
    if operator_links.is_link_payload(text):
        await _link(worker, message, user, chat_id, text.split(maxsplit=1)[1])
        return
    operator = (await operators_of(worker)).get(int(user.get("id") or 0))
    if operator is None:  # unlinked meanwhile: not an operator's message any more; nothing to say
        return
    locale = await owner_locale(worker, operator.owner_id)
    reply_to = message.get("reply_to_message") or {}
    dialog_id = None
    if reply_to.get("message_id") is not None:
        async with worker.runner.session() as session:
            dialog_id = await operator_holds.dialog_of_chat_message(
                session, operator=operator, telegram_message_id=int(reply_to["message_id"]))
    if text.split("@")[0].split(" ")[0] == "/release":
        await _release_command(worker, operator, locale, chat_id, dialog_id)
        return
    if dialog_id is None:
        await send(worker, chat_id, say(locale, "opchat_which_customer"))
        return
    if not text:
        await send(worker, chat_id, say(locale, "opchat_text_only"))
        return
    try:
        async with worker.runner.session() as session:
            await operator_holds.reply(session, operator=operator, dialog_id=dialog_id, text=text)
    except HoldRefused as exc:
        await send(worker, chat_id, await _refusal(worker, locale, exc))


async def _link(worker: Worker, message: dict[str, Any], user: dict[str, Any], chat_id: int, code: str) -> None:
    name = " ".join(p for p in (str(user.get("first_name") or ""), str(user.get("last_name") or "")) if p)
    async with worker.runner.session() as session:
        redeemed = await operator_links.redeem(
            session, bot_id=worker.id, code=code, telegram_user_id=int(user["id"]), chat_id=chat_id, name=name,
            username=str(user.get("username") or ""), language=str(user.get("language_code") or ""))
    forget_operators(worker.id)
    log.info("bot %s: operator link %s", worker.id, redeemed.outcome)
    locale = await owner_locale(worker, worker.record.owner_id)
    await send(worker, chat_id, say(locale, f"opchat_{redeemed.outcome}"))


async def _release_command(worker: Worker, operator: TelegramOperator, locale: str, chat_id: int,
                           dialog_id: uuid.UUID | None) -> None:
    if dialog_id is None:
        async with worker.runner.session() as session:
            held = await operator_holds.held_by(session, operator=operator)
        if not held:
            await send(worker, chat_id, say(locale, "opchat_nothing_held"))
            return
    else:
        held = [dialog_id]
    for one in held:
        await send(worker, chat_id, await _release(worker, operator, locale, one))


async def _release(worker: Worker, operator: TelegramOperator, locale: str, dialog_id: uuid.UUID) -> str:
    try:
        async with worker.runner.session() as session:
            await operator_holds.release(session, operator=operator, dialog_id=dialog_id)
    except HoldRefused as exc:
        return await _refusal(worker, locale, exc)
    return say(locale, "opchat_released", customer=await _customer(worker, locale, dialog_id))


async def _customer(worker: Worker, locale: str, dialog_id: uuid.UUID) -> str:
    from chatai.db.models import Dialog

    async with worker.runner.session() as session:
        name = await session.scalar(sa.select(Dialog.user_name).where(Dialog.id == dialog_id))
    return name or say(locale, "opchat_customer")


async def _refusal(worker: Worker, locale: str, exc: HoldRefused) -> str:
    return say(locale, f"opchat_{exc.code}", holder=exc.holder)


# --- buttons -------------------------------------------------------------------------------------------------


async def _on_button(worker: Worker, query: dict[str, Any]) -> None:
    sender = int((query.get("from") or {}).get("id") or 0)
    operator = (await operators_of(worker)).get(sender)
    data = str(query.get("data") or "")
    if operator is None:
        locale = await owner_locale(worker, worker.record.owner_id)
        await _answer_button(worker, query, say(locale, "opchat_not_operator"))
        return
    locale = await owner_locale(worker, operator.owner_id)
    try:
        dialog_id = uuid.UUID(data[len(CALLBACK_TAKE):])
    except ValueError:
        await _answer_button(worker, query, say(locale, "opchat_not_found"))
        return
    if data.startswith(CALLBACK_RELEASE):
        await _answer_button(worker, query, await _release(worker, operator, locale, dialog_id))
        return
    if not data.startswith(CALLBACK_TAKE):
        await _answer_button(worker, query, say(locale, "opchat_not_found"))
        return
    try:
        async with worker.runner.session() as session:
            await operator_holds.take_over(session, operator=operator, dialog_id=dialog_id)
    except HoldRefused as exc:
        await _answer_button(worker, query, await _refusal(worker, locale, exc))
        return
    await _answer_button(worker, query, say(locale, "opchat_taken", customer=await _customer(worker, locale,
                                                                                              dialog_id)))
    await _keyboard_after_take_over(worker, query, locale, dialog_id)


async def _answer_button(worker: Worker, query: dict[str, Any], text: str) -> None:
    """The sentence shown over the operator's chat (answerCallbackQuery, at most 200 characters)."""
    worker.check_lease()
    try:
        await worker.bot.answer_callback_query(callback_query_id=str(query["id"]), text=text[:200], show_alert=True)
    except Exception as exc:  # noqa: BLE001 - the button's spinner stops by itself
        log.warning("bot %s: button not answered: %s", worker.id, describe(exc))
