"""Webhook mode: Telegram POSTs updates to /telegram/webhook/<bot uuid> on the web app.

The path carries our bot id, never the token. Telegram sends the secret we gave it in setWebhook
in the X-Telegram-Bot-Api-Secret-Token header. The secret is stored encrypted like the token and
compared in constant time; a wrong secret, an unknown bot and a bot that is not in webhook mode all get
the same 403 (a polling bot's updates come from getUpdates only, so a delivery here is forged or stale).
The route only persists (the same `record_incoming` the poll loop uses, deduplicated by update_id, so
Telegram's retries are harmless) and tells the owning runner; the runner answers, with the same
handlers, limits and exactly-once bookkeeping as in polling mode. Answering 200 quickly keeps Telegram
from retrying; a failure to store answers 500 so that Telegram does retry, except that an update which
failed `bot_update_max_attempts` times (counted in Redis across deliveries) is marked 'failed' and
acknowledged, so one poison message does not hold up the bot's later updates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatai.bots import business, operator_updates, pending_wire
from chatai.bots.bot_sentences import STORE_SKIPPED
from chatai.bots.group_chats import BotIdentity
from chatai.bots.handlers import classify
from chatai.bots.logsafe import describe
from chatai.bots.supervisor import database_unreachable
from chatai.db.models import Assistant, Bot
from chatai.db.session import get_async_engine
from chatai.security import constant_time_equal, decrypt_secret
from chatai.services import bot_events, dialogs
from chatai.services.bots import publish_command
from chatai.services.handoff import publish_events
from chatai.settings import get_settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY = 1 << 20
_NO_SECRET = "\x00no-secret"  # noqa: S105 - compared against when there is no usable secret: never equal
FAILURES_KEY = "chatai:webhook:failures:{bot}:{update}"
FAILURES_TTL = 24 * 3600  # Telegram keeps an update this long


def _expected_secret(row: Any) -> str:
    if row is None or getattr(row, "mode", "") != "webhook" or not getattr(row, "webhook_secret", ""):
        return _NO_SECRET
    try:
        return decrypt_secret(row.webhook_secret) or _NO_SECRET
    except ValueError:  # SECRET_KEY changed: no delivery can be verified
        return _NO_SECRET


_BOT_ROW = (sa.select(Bot.id, Bot.owner_id, Bot.assistant_id, Bot.webhook_secret, Bot.mode, Bot.username,
                      Bot.telegram_bot_id, Assistant.answer_in_groups)
            .join(Assistant, Assistant.id == Bot.assistant_id))


async def handle_webhook(request: Request) -> Response:
    try:
        bot_id = uuid.UUID(request.path_params["bot_id"])
    except ValueError:
        return Response(status_code=403)
    failure: Exception | None = None
    # One AUTOCOMMIT connection reads the bot and stores the update: an ORM session for the read cost a
    # second checkout (with its pre-ping), a transaction and its rollback on every update (bench.bots_10k
    # --stages). It is held while the body is read only for a sender that knows the bot's secret.
    async with get_async_engine().connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # one statement = one commit
        row = (await conn.execute(_BOT_ROW.where(Bot.id == bot_id))).one_or_none()
        supplied = request.headers.get(SECRET_HEADER, "")
        # Unknown bot, polling bot and wrong secret look the same from outside, and cost the same comparison.
        expected = _expected_secret(row)
        if not constant_time_equal(supplied, expected) or expected == _NO_SECRET or row is None:
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            update = json.loads(body)
            incoming = classify(update, bot=BotIdentity(row.username, row.telegram_bot_id),
                                answer_in_groups=row.answer_in_groups)
        except (ValueError, TypeError, KeyError, AttributeError):
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        try:
            stored = await _store(conn, row, update, incoming)
        except (TypeError, KeyError, ValueError):  # a malformed business update
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        except Exception as exc:  # noqa: BLE001 - Telegram retries on non-2xx
            failure = exc
    if failure is not None:  # counted with the connection back in the pool
        log.warning("webhook update %s for bot %s not stored: %s", incoming.update_id, bot_id, describe(failure))
        if not database_unreachable(failure) and await _give_up(row, incoming.update_id):
            return JSONResponse({"ok": True})
        return Response(status_code=500)
    if stored is None:  # an operator's update: stored, its runner nudged
        return JSONResponse({"ok": True})
    pending, events = stored
    owed = [p for p in pending if not p.ai_muted]
    if owed:
        await publish_command("pending", row.id, update_ids=[p.update_id for p in owed],
                              pending=[pending_wire.encode(p) for p in owed])
    for p in pending:
        await dialogs.publish_dialog_event(dialog_id=p.dialog_id, owner_id=p.owner_id, role="user")
    if events:
        await publish_events(events)
    return JSONResponse({"ok": True})


async def _store(conn: Any, row: Any, update: dict[str, Any], incoming: Any
                 ) -> tuple[list[dialogs.Pending], list[dict[str, str]]] | None:
    """Store a verified delivery: (updates to answer, live events), None for an operator's update."""
    # An operator's update (operator_updates.py) is never a customer's question: its runner handles it.
    if await operator_updates.claim_from_webhook(conn, bot_id=row.id, update=update):
        return None
    stored = await business.store(conn, update, bot_id=row.id, owner_id=row.owner_id, assistant_id=row.assistant_id)
    if stored is not None:  # Telegram Business (business.py)
        return stored.pending, stored.events
    return await dialogs.record_incoming(conn, bot_id=row.id, owner_id=row.owner_id, assistant_id=row.assistant_id,
                                         incoming=[incoming]), []


async def _give_up(row: Any, update_id: int) -> bool:
    """Count this failed delivery; True once the update has failed too often and is now marked 'failed'."""
    from chatai.cache import get_redis

    limit = max(1, get_settings().bot_update_max_attempts)
    key = FAILURES_KEY.format(bot=row.id, update=update_id)
    try:
        async with get_redis().pipeline(transaction=True) as pipe:
            attempts = int((await pipe.incr(key).expire(key, FAILURES_TTL).execute())[0])
        if attempts < limit:
            return False
        async with get_async_engine().connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await dialogs.mark_failed(conn, bot_id=row.id, update_id=update_id)
            await bot_events.record(conn, bot_id=row.id, owner_id=row.owner_id, kind="update_failed",
                                    message=STORE_SKIPPED.format(update_id=update_id, n=attempts))
    except Exception as exc:  # noqa: BLE001 - not counted or not marked: Telegram retries, we count again
        log.warning("webhook update %s for bot %s not marked failed: %s", update_id, row.id, describe(exc))
        return False
    with contextlib.suppress(Exception):  # the key expires anyway
        await get_redis().delete(key)
    return True


def webhook_routes() -> list[Route]:
    """Mount these on the web app (api_transformer=Starlette(routes=webhook_routes()))."""
    return [Route("/telegram/webhook/{bot_id}", handle_webhook, methods=["POST"])]
