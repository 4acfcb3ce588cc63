"""Charging answers, runner side: thin calls from handlers.respond() into services/charges.py.

Per answer (key = the incoming update: bot id + update id, so a re-delivered or recovered message reuses
its reservation and is never charged twice):
1. `reserve` before generating. Refused (available balance below the price) -> `refuse`: the end user gets
   a polite notice in their language, the dialog waits for a person, the owner gets a notification.
2. `before_send`: a reply that is not billable (greeting, notice, "I don't know", LLM failure) releases now,
   before anything is sent, so no crash window can turn it into a charge.
3. `after_send`: delivered -> commit (the cost lands on the message and the dialog); not -> release.
The settle sweep (`settle_loop`, at runner start and every SETTLE_INTERVAL) settles what a killed runner
left open: committed when the update ended answered with a billable reply, released otherwise.

Billing trouble never blocks an answer: errors are logged and the sweep settles later. Prices are cached
for PRICE_TTL seconds (a changed price reaches the runners within that time).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chatai.services import billing, charges, handoff, notifications

if TYPE_CHECKING:
    from chatai.bots.contracts import Worker
    from chatai.services.dialogs import Pending, SavedReply

log = logging.getLogger(__name__)

PRICE_TTL = 10.0
SETTLE_INTERVAL = 60.0
SETTLE_MIN_AGE = timedelta(seconds=10)  # younger open charges are still being answered by their runner
_prices: dict[tuple[str, tuple[str, ...]], tuple[float, int]] = {}  # (channel, items) -> (loaded at, micros)

ZERO_BALANCE_TEXT = {
    "en": "Sorry, the assistant is temporarily unavailable. A person has been notified and will reply to you "
          "here as soon as possible.",
    "ru": "Извините, ассистент временно недоступен. Мы уже сообщили сотруднику — он ответит вам здесь как можно "
          "скорее.",
}


def charge_key(bot_id: uuid.UUID, update_id: int) -> str:
    return f"tg:{bot_id}:{update_id}"


async def _price(worker: Worker, items: tuple[str, ...], channel: str = "telegram") -> int:
    """The highest current price of `items`, cached for PRICE_TTL (one lookup per answer would cost a round
    trip on the hot path)."""
    cached = _prices.get((channel, items))
    if cached is not None and time.monotonic() - cached[0] < PRICE_TTL:
        return cached[1]
    async with worker.runner.session() as session:
        price = max([await billing.price_at(session, item=item, channel=channel) for item in items])
    _prices[(channel, items)] = (time.monotonic(), price)
    return price


async def _reserve_price(worker: Worker) -> int:
    """What one answer reserves: the higher of the AI-answer and Q&A-answer prices (which one it becomes is
    known only after generating; the commit charges the actual item and returns the difference)."""
    return await _price(worker, ("answer", "qa_answer"))


async def _answer_price(worker: Worker) -> int:
    """The AI-answer price: the low-balance threshold counts answers at it."""
    return await _price(worker, ("answer",))


async def reserve(worker: Worker, pending: Pending) -> bool:
    """True: answer (reserved, free, or this message already has its charge). False: out of money."""
    try:
        price = await _reserve_price(worker)
        if price <= 0:
            return True
        async with worker.runner.db(hot_row=pending.owner_id) as conn:  # one autocommit statement (charges.reserve)
            status = await charges.reserve(conn, account_id=pending.owner_id,
                                           key=charge_key(pending.bot_id, pending.update_id), amount_micros=price,
                                           bot_id=pending.bot_id, update_id=pending.update_id,
                                           dialog_id=pending.dialog_id)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - billing trouble must not silence the bot
        log.warning("bot %s: charge not reserved for update %s", pending.bot_id, pending.update_id, exc_info=True)
        return True
    return status != "refused"


async def refuse(worker: Worker, pending: Pending, language: str) -> str:
    """Out of money: hand the dialog to a person, alert the owner once; the polite text for the end user."""
    try:
        async with worker.runner.session() as session:
            # Commits and publishes the status change itself; then the owner's alert in its own transaction.
            await handoff.request_handoff(session, dialog_id=pending.dialog_id, reason="balance_zero")
            await billing.notify_balance_zero(session, owner_id=pending.owner_id)
            await session.commit()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the end user still gets the notice
        log.warning("bot %s: zero-balance handoff not recorded", pending.bot_id, exc_info=True)
    return ZERO_BALANCE_TEXT.get(language, ZERO_BALANCE_TEXT["en"])


async def _settle(worker: Worker, pending: Pending, saved: SavedReply, *, delivered: bool) -> None:
    item = charges.CHARGED_REPLIES.get(saved.answered_by) if delivered else None
    try:
        async with worker.runner.db(hot_row=pending.owner_id) as conn:  # one statement (charges.settle)
            done = await charges.settle(conn, key=charge_key(pending.bot_id, pending.update_id),
                                        commit=item is not None, item=item, message_id=saved.message_id)
        if done is not None and notifications.crosses_low_balance(
                balance_before=done.balance_micros + done.charged, balance_after=done.balance_micros,
                price_micros=await _answer_price(worker)):
            async with worker.runner.session() as session:  # the rare crossing: the owner's mail
                await notifications.balance_moved(session, account_id=done.account_id,
                                                  key=charge_key(pending.bot_id, pending.update_id),
                                                  balance_before=done.balance_micros + done.charged,
                                                  balance_after=done.balance_micros)
                await session.commit()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the settle sweep finishes it
        log.warning("bot %s: charge of update %s not settled yet", pending.bot_id, pending.update_id, exc_info=True)


async def _may_have_charge(worker: Worker) -> bool:
    """Skip the settle round trip while answers are free (a charge left open meanwhile is the sweep's)."""
    try:
        return await _reserve_price(worker) > 0
    except Exception:  # noqa: BLE001
        return True


async def before_send(worker: Worker, pending: Pending, saved: SavedReply) -> None:
    """A reply that is not billable releases its reservation before it is sent."""
    if saved.answered_by not in charges.CHARGED_REPLIES and await _may_have_charge(worker):
        await _settle(worker, pending, saved, delivered=False)


async def after_send(worker: Worker, pending: Pending, saved: SavedReply, *, delivered: bool) -> None:
    """Delivered: commit (cost on the message and dialog). Not delivered: release."""
    if delivered and saved.answered_by not in charges.CHARGED_REPLIES:
        return  # released before sending
    if await _may_have_charge(worker):
        await _settle(worker, pending, saved, delivered=delivered)


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
