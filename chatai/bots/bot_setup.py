"""What Telegram already holds for each bot (its token checked, its webhook set or deleted), recorded in Redis so
that a restarted runner, or a runner taking bots over, does not ask again.

Why: a bot's set-up is getMe (is the token still valid?) and setWebhook (webhook mode) or deleteWebhook (polling).
For ten thousand bots that is twenty thousand calls at every runner start, hand-over or takeover, and Telegram
rate-limits setWebhook (bots/pacing.RatePacer paces what must be done). The webhook URL names the web app, never
a runner, so what one runner set stays right when another takes the bot over: nothing to redo.

A record is a digest of what was set (token, mode, URL, secret, allowed updates, max connections): a new token,
a new secret, a new PUBLIC_URL or a switch of TELEGRAM_MODE changes it, and the bot is set up again. It is
dropped when the runner deletes the webhook (paused or deleted bot), when Telegram rejects the token, and when a
poll meets 409 (someone set a webhook behind our back). Losing Redis loses only the records: every bot is then
set up again, paced. The digest holds no secret (blake2b of high-entropy values, keyed per purpose).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from chatai.bots.logsafe import describe
from chatai.security import decrypt_secret
from chatai.settings import get_settings

log = logging.getLogger(__name__)

SETUP_KEY = "chatai:bots:setup"  # hash: bot id -> digest of what Telegram holds for it
CHUNK = 500
# callback_query: buttons of the operator chat (operator_chat.py); business_*: Telegram Business (business.py)
ALLOWED_UPDATES = ("message", "callback_query", "business_connection", "business_message", "edited_business_message",
                   "deleted_business_messages")
MAX_CONNECTIONS = 40


def webhook_url(public_url: str, bot_id: uuid.UUID) -> str:
    return f"{public_url.rstrip('/')}/telegram/webhook/{bot_id}"


def wanted(*, token: str, mode: str, url: str = "", secret: str = "") -> str:
    """The digest of the set-up this bot should have."""
    parts = [mode, token] + ([url, secret, ",".join(ALLOWED_UPDATES), str(MAX_CONNECTIONS)]
                             if mode == "webhook" else [])
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16, person=b"chatai-setup").hexdigest()


class SetupRecords:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def recorded(self, bot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The recorded digests of these bots (missing: not set up by us, or set-up forgotten)."""
        found: dict[uuid.UUID, str] = {}
        for start in range(0, len(bot_ids), CHUNK):  # one round trip each: the event loop runs in between
            part = bot_ids[start:start + CHUNK]
            values = await self.redis.hmget(SETUP_KEY, [str(b) for b in part])
            found.update((b, v.decode() if isinstance(v, bytes) else v)
                         for b, v in zip(part, values, strict=True) if v)
        return found

    async def record(self, bot_id: uuid.UUID, digest: str) -> None:
        await self.redis.hset(SETUP_KEY, str(bot_id), digest)

    async def forget(self, bot_id: uuid.UUID) -> None:
        await self.redis.hdel(SETUP_KEY, str(bot_id))


async def set_up(worker: Any, bot: Any) -> None:
    """getMe, then setWebhook (webhook mode) or deleteWebhook (polling) for the worker's bot, unless Telegram
    holds this very set-up already as recorded: a restart or a hand-over then costs no Telegram call.
    `worker` is a contracts.Worker (not imported: contracts names this module's types)."""
    runner, record = worker.runner, worker.record
    webhook = runner.mode == "webhook"
    url = webhook_url(get_settings().public_url, worker.id) if webhook else ""
    secret = decrypt_secret(record.webhook_secret) if webhook else ""
    digest = wanted(token=record.token, mode=runner.mode, url=url, secret=secret)
    if record.setup == digest:
        return
    async with runner.startup_slots:  # a thousand bots starting must not stampede
        await bot.initialize()  # getMe once (idempotent): a revoked token fails here with 401
        await runner.setup_pacer.wait()  # Telegram rate-limits setWebhook
        if webhook:
            await bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES),
                                  max_connections=MAX_CONNECTIONS)
        else:
            await bot.delete_webhook()
    try:
        await runner.setup_records.record(worker.id, digest)
    except Exception as exc:  # noqa: BLE001 - not recorded: the next start sets it up again, nothing worse
        log.warning("bot %s: set-up not recorded: %s", worker.id, describe(exc))
    record.setup = digest


async def forget(worker: Any) -> None:
    """What Telegram holds is no longer known (token rejected, 409): the next start sets the bot up again."""
    worker.record.setup = ""
    with contextlib.suppress(Exception):
        await worker.runner.setup_records.forget(worker.id)
