"""Webhook mode: Telegram POSTs updates to /telegram/webhook/<bot uuid> on the web app.

The path carries our bot id, never the token. Telegram sends the secret we gave it in setWebhook
in the X-Telegram-Bot-Api-Secret-Token header; anything else gets 403. The route only persists
(the same `record_incoming` the poll loop uses, deduplicated by update_id, so Telegram's retries
are harmless) and tells the owning runner; the runner answers, with the same handlers, limits
and exactly-once bookkeeping as in polling mode. Answering 200 quickly keeps Telegram from
retrying; a database failure answers 500 so that Telegram does retry.
"""

from __future__ import annotations

import json
import logging
import uuid

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatai.bots.handlers import classify
from chatai.db.models import Bot
from chatai.db.session import async_session, get_async_engine
from chatai.security import constant_time_equal
from chatai.services import dialogs
from chatai.services.bots import publish_command

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY = 1 << 20


async def handle_webhook(request: Request) -> Response:
    try:
        bot_id = uuid.UUID(request.path_params["bot_id"])
    except ValueError:
        return Response(status_code=403)
    async with async_session() as session:
        row = (await session.execute(
            sa.select(Bot.id, Bot.owner_id, Bot.assistant_id, Bot.webhook_secret).where(Bot.id == bot_id)
        )).one_or_none()
    supplied = request.headers.get(SECRET_HEADER, "")
    # Unknown bot and wrong secret look the same from outside.
    expected = row.webhook_secret if row is not None and row.webhook_secret else "\x00no-secret"
    if not constant_time_equal(supplied, expected) or row is None:
        return Response(status_code=403)
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    try:
        incoming = classify(json.loads(body))
    except (ValueError, TypeError, KeyError, AttributeError):
        return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
    try:
        async with get_async_engine().connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # one statement = one commit
            pending = await dialogs.record_incoming(conn, bot_id=row.id, owner_id=row.owner_id,
                                                    assistant_id=row.assistant_id, incoming=[incoming])
    except Exception:  # noqa: BLE001 - Telegram retries on non-2xx
        log.warning("webhook update for bot %s not stored", bot_id, exc_info=True)
        return Response(status_code=500)
    if any(not p.ai_muted for p in pending):
        await publish_command("pending", row.id)
    for p in pending:
        await dialogs.publish_dialog_event(dialog_id=p.dialog_id, owner_id=p.owner_id, role="user")
    return JSONResponse({"ok": True})


def webhook_routes() -> list[Route]:
    """Mount these on the web app (api_transformer=Starlette(routes=webhook_routes()))."""
    return [Route("/telegram/webhook/{bot_id}", handle_webhook, methods=["POST"])]
