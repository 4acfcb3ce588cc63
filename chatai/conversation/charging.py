"""Charging answers, for every channel: thin calls from the pipeline into services/charges.py.

Per answer (key = the channel's idempotency key of the incoming message, e.g. Telegram's bot id + update id,
so a re-delivered or recovered message reuses its reservation and is never charged twice):
1. `reserve` before generating. Refused (available balance below the price) -> `refuse`: the customer gets
   a polite notice in their language, the dialog waits for a person, the owner gets a notification.
2. `before_send`: a reply that is not billable (greeting, notice, "I don't know", LLM failure) releases now,
   before anything is sent, so no crash window can turn it into a charge.
3. `after_send`: delivered -> commit (the cost lands on the message and the dialog); not -> release.
The settle sweep (`settle_loop`, at runner start and every SETTLE_INTERVAL) settles what a killed runner
left open: committed when the update ended answered with a billable reply, released otherwise.

Billing trouble never blocks an answer: errors are logged and the sweep settles later. Prices are cached
for PRICE_TTL seconds (a changed price reaches the runners within that time). A channel that is not
billable (the owner's playground) never reaches this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chatai.services import billing, charges, handoff, notifications

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlmodel.ext.asyncio.session import AsyncSession

    from chatai.services.dialogs import Pending, SavedReply

log = logging.getLogger(__name__)

PRICE_TTL = 10.0
SETTLE_INTERVAL = 60.0
SETTLE_MIN_AGE = timedelta(seconds=10)  # younger open charges are still being answered by their runner
PRICE_LIST = "telegram"  # prices.channel: one price list serves every channel today (billing.CHANNELS)
_prices: dict[tuple[str, tuple[str, ...]], tuple[float, int]] = {}  # (price list, items) -> (loaded at, micros)

ZERO_BALANCE_TEXT = {
    "en": "Sorry, the assistant is temporarily unavailable. A person has been notified and will reply to you "
          "here as soon as possible.",
    "ru": "Извините, ассистент временно недоступен. Мы уже сообщили сотруднику — он ответит вам здесь как можно "
          "скорее.",
}


class Storage(Protocol):
    """Where the pipeline reads and writes (the bot runner's pools, or the web process's)."""

    def session(self) -> AsyncSession: ...

    def db(self, *, hot_row: object = None, urgent: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        """`hot_row`: the account a charge statement writes; the runner lets such statements of one account
        take turns holding no connection, `urgent` ones (the answer waits for them) first (bots/admission.py);
        the web process ignores both."""
        ...


def charge_key(bot_id: uuid.UUID, update_id: int) -> str:
    """A Telegram message's key (the settle sweep finds its update by bot and update id)."""
    return f"tg:{bot_id}:{update_id}"


async def _price(store: Storage, items: tuple[str, ...], price_list: str = PRICE_LIST) -> int:
    """The highest current price of `items`, cached for PRICE_TTL (one lookup per answer would cost a round
    trip on the hot path)."""
    cached = _prices.get((price_list, items))
    if cached is not None and time.monotonic() - cached[0] < PRICE_TTL:
        return cached[1]
    async with store.session() as session:
        price = max([await billing.price_at(session, item=item, channel=price_list) for item in items])
    _prices[(price_list, items)] = (time.monotonic(), price)
    return price


async def _reserve_price(store: Storage) -> int:
    """What one answer reserves: the higher of the AI-answer and Q&A-answer prices (which one it becomes is
    known only after generating; the commit charges the actual item and returns the difference)."""
    return await _price(store, ("answer", "qa_answer"))


async def _answer_price(store: Storage) -> int:
    """The AI-answer price: the low-balance threshold counts answers at it."""
    return await _price(store, ("answer",))


async def reserve(store: Storage, turn: Pending, key: str) -> bool:
    """True: answer (reserved, free, or this message already has its charge). False: out of money."""
    try:
        price = await _reserve_price(store)
        if price <= 0:
            return True
        # One autocommit statement (charges.reserve), urgent: the answer waits for it, a settle does not.
        async with store.db(hot_row=turn.owner_id, urgent=True) as conn:
            status = await charges.reserve(conn, account_id=turn.owner_id, key=key, amount_micros=price,
                                           bot_id=turn.bot_id, update_id=turn.update_id, dialog_id=turn.dialog_id)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - billing trouble must not silence the assistant
        log.warning("charge %s not reserved", key, exc_info=True)
        return True
    return status != "refused"


async def refuse(store: Storage, turn: Pending, language: str) -> str:
    """Out of money: hand the dialog to a person, alert the owner once; the polite text for the customer."""
    try:
        async with store.session() as session:
            # Commits and publishes the status change itself; then the owner's alert in its own transaction.
            await handoff.request_handoff(session, dialog_id=turn.dialog_id, reason="balance_zero")
            await billing.notify_balance_zero(session, owner_id=turn.owner_id)
            await session.commit()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the customer still gets the notice
        log.warning("dialog %s: zero-balance handoff not recorded", turn.dialog_id, exc_info=True)
    return ZERO_BALANCE_TEXT.get(language, ZERO_BALANCE_TEXT["en"])


async def _settle(store: Storage, key: str, saved: SavedReply, *, delivered: bool,
                  account_id: uuid.UUID | None = None) -> None:
    item = charges.CHARGED_REPLIES.get(saved.answered_by) if delivered else None
    try:
        async with store.db(hot_row=account_id) as conn:  # one autocommit statement (charges.settle)
            done = await charges.settle(conn, key=key, commit=item is not None, item=item,
                                        message_id=saved.message_id)
        if done is not None and notifications.crosses_low_balance(
                balance_before=done.balance_micros + done.charged, balance_after=done.balance_micros,
                price_micros=await _answer_price(store)):
            async with store.session() as session:  # the rare crossing: the owner's mail
                await notifications.balance_moved(session, account_id=done.account_id, key=key,
                                                  balance_before=done.balance_micros + done.charged,
                                                  balance_after=done.balance_micros)
                await session.commit()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the settle sweep finishes it
        log.warning("charge %s not settled yet", key, exc_info=True)


async def _may_have_charge(store: Storage) -> bool:
    """Skip the settle round trip while answers are free (a charge left open meanwhile is the sweep's)."""
    try:
        return await _reserve_price(store) > 0
    except Exception:  # noqa: BLE001
        return True


async def before_send(store: Storage, key: str, saved: SavedReply, *, account_id: uuid.UUID | None = None) -> None:
    """A reply that is not billable releases its reservation before it is sent."""
    if saved.answered_by not in charges.CHARGED_REPLIES and await _may_have_charge(store):
        await _settle(store, key, saved, delivered=False, account_id=account_id)


async def after_send(store: Storage, key: str, saved: SavedReply, *, delivered: bool,
                     account_id: uuid.UUID | None = None) -> None:
    """Delivered: commit (cost on the message and dialog). Not delivered: release."""
    if delivered and saved.answered_by not in charges.CHARGED_REPLIES:
        return  # released before sending
    if await _may_have_charge(store):
        await _settle(store, key, saved, delivered=delivered, account_id=account_id)


def settle_loop(runner: Any) -> Callable[[], Awaitable[None]]:
    """The runner's sweep task (started with its other loops): settle what crashed runners left open."""

    async def settle_loop() -> None:
        while True:
            try:
                async with runner.session() as session:
                    done = await charges.settle_stale(session, min_age=SETTLE_MIN_AGE)
                if any(done.values()):
                    log.info("settled open charges: %s", done)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - next round
                log.warning("settle sweep failed", exc_info=True)
            await asyncio.sleep(SETTLE_INTERVAL)

    return settle_loop
