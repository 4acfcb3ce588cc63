"""An operator's updates, stored before they are handled, handled once by the runner owning the bot.

Why: an operator's reply, button press or /release is claimed where it arrives (the poll loop, or the web
route in webhook mode) and Telegram is told it was received. Handed over in memory or on Redis pub/sub
alone, it was lost when no runner listened (publish reaching nobody) or the runner died before handling it.
So it is stored first, exactly like a customer's message: one statement claims the update in
`telegram_updates` ('ignored': never a customer's question, a re-delivery is a no-op) and keeps its body in
`operator_updates`. Then:
- the fast path hands it to the runner owning the bot (in process when polling; a nudge on Redis, ids only,
  in webhook mode);
- the runner's sweep (operator_alerts.py, every few seconds) handles the rows of its bots that no fast
  path handled: a runner that died, a nudge nobody heard;
- `handle_stored` handles a row once: it runs in the bot's worker, marked in the worker's `inflight` (so
  the sweep and the nudge do not both take it) and re-read from the table first (gone: handled already),
  and deletes the row when done. A runner that lost the bot's lease stops without deleting it: the new
  owner handles it (operator_chat.handle re-raises LeaseLost).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from chatai.bots import operator_chat
from chatai.bots.contracts import LeaseLost
from chatai.bots.logsafe import describe
from chatai.db.id_arrays import any_of
from chatai.db.models import utcnow
from chatai.db.operator_models import OperatorUpdate, TelegramOperator
from chatai.services import operator_links

if TYPE_CHECKING:
    from chatai.bots.contracts import Runner, Worker

log = logging.getLogger(__name__)

# Webhook mode: the web process stored an operator's update; the runner owning the bot handles it.
OPERATOR_UPDATES_CHANNEL = "chatai:operators:updates"  # {"bot_id", "update_id"}
SWEEP_BATCH = 200

# One statement, so an update is never claimed without its body being kept (a crash in between would
# otherwise turn Telegram's retry into a duplicate that is skipped, and the update into a lost one).
_STORE = sa.text("""
    WITH claimed AS (
        INSERT INTO telegram_updates (bot_id, update_id, status, received_at)
        VALUES (:bot, :update, 'ignored', :at)
        ON CONFLICT DO NOTHING
        RETURNING bot_id, update_id
    )
    INSERT INTO operator_updates (bot_id, update_id, payload, received_at)
    SELECT bot_id, update_id, CAST(:payload AS jsonb), :at FROM claimed
    RETURNING update_id
""")


async def store(conn: Any, *, bot_id: uuid.UUID, update: dict[str, Any]) -> bool:
    """Claim and keep an operator's update; False when it was claimed before (a re-delivery)."""
    stored = await conn.execute(_STORE, {"bot": bot_id, "update": int(update["update_id"]), "at": utcnow(),
                                         "payload": json.dumps(update)})
    return stored.first() is not None


async def intercept(worker: Worker, conn: Any, update: dict[str, Any]) -> Coroutine[Any, Any, None] | None:
    """The poll loop asks first: None for a customer's update; for an operator's, stored now (on the poll
    loop's connection) and the coroutine that handles it, for the caller to run in the background (a no-op
    for a re-delivery of one stored before)."""
    if not await operator_chat.is_operator_update(worker, update):
        return None
    await store(conn, bot_id=worker.id, update=update)
    return _handle_logged(worker, int(update["update_id"]))


async def claim_from_webhook(conn: Any, *, bot_id: uuid.UUID, update: dict[str, Any]) -> bool:
    """Webhook mode (bots/webhook.py, in the web process): True when the update is the operator chat's; then
    it is stored (a retried delivery is not stored twice) and the runner owning the bot is nudged. One
    indexed lookup for a private message of a linked account."""
    if not isinstance(update.get("callback_query"), dict):
        message = update.get("message")
        if not isinstance(message, dict) or (message.get("chat") or {}).get("type", "private") != "private":
            return False
        sender = operator_chat.sender_id(update)
        if sender is None:
            return False
        if not operator_links.is_link_payload(str(message.get("text") or "")):
            linked = await conn.scalar(sa.select(sa.literal(1)).where(TelegramOperator.bot_id == bot_id,
                                                                      TelegramOperator.telegram_user_id == sender))
            if linked is None:
                return False
    if await store(conn, bot_id=bot_id, update=update):
        await publish(bot_id, int(update["update_id"]))
    return True


async def publish(bot_id: uuid.UUID, update_id: int) -> None:
    """Webhook mode: nudge the runner owning the bot. Best effort: reaching nobody, the sweep handles it."""
    from chatai.cache import get_redis

    try:
        await get_redis().publish(OPERATOR_UPDATES_CHANNEL, json.dumps({"bot_id": str(bot_id),
                                                                        "update_id": update_id}))
    except Exception as exc:  # noqa: BLE001 - stored: the runner's sweep finds it
        log.warning("bot %s: operator update %s not nudged: %s", bot_id, update_id, describe(exc))


async def handle_stored(worker: Worker, update_id: int) -> bool:
    """Handle one stored update of this worker's bot, once; True when this call handled it."""
    inflight: set[int] = worker.inflight
    if update_id in inflight:
        return False  # the sweep, the nudge or the poll loop got there first
    inflight.add(update_id)
    try:
        async with worker.runner.db() as conn:
            payload = await conn.scalar(sa.select(OperatorUpdate.payload).where(
                OperatorUpdate.bot_id == worker.id, OperatorUpdate.update_id == update_id))
        if payload is None:
            return False  # handled already (and deleted)
        try:
            await operator_chat.handle(worker, payload)
        except LeaseLost:
            log.info("bot %s: lease lost; operator update %s left to the bot's new runner", worker.id, update_id)
            return False
        async with worker.runner.db() as conn:
            await conn.execute(sa.delete(OperatorUpdate).where(OperatorUpdate.bot_id == worker.id,
                                                               OperatorUpdate.update_id == update_id))
        return True
    finally:
        inflight.discard(update_id)


async def on_nudge(runner: Runner, event: dict[str, Any]) -> None:
    """A nudge from the web route: handle it here when this runner runs the bot."""
    worker = runner.workers.get(uuid.UUID(event["bot_id"]))
    if worker is not None and worker.status == "running":
        await _handle_logged(worker, int(event["update_id"]))


async def sweep(runner: Runner) -> int:
    """Handle the stored updates of this runner's running bots that nothing handled; how many were found."""
    workers = runner.running_workers()
    if not workers:
        return 0
    async with runner.db() as conn:
        rows = (await conn.execute(
            sa.select(OperatorUpdate.bot_id, OperatorUpdate.update_id)
            .where(any_of(OperatorUpdate.bot_id, workers))
            .order_by(OperatorUpdate.received_at).limit(SWEEP_BATCH))).all()
    found = 0
    for bot_id, update_id in rows:
        worker = workers[bot_id]
        if update_id not in worker.inflight:
            found += 1
            await _handle_logged(worker, update_id)  # in order: an operator's replies arrive as written
    return found


async def _handle_logged(worker: Worker, update_id: int) -> None:
    try:
        await handle_stored(worker, update_id)
    except Exception as exc:  # noqa: BLE001 - kept: the next sweep tries again
        log.warning("bot %s: operator update %s not handled yet: %s", worker.id, update_id, describe(exc))
