"""Telegram bots of an owner: connect, list, pause, resume, replace the token, disconnect.

Used by the dashboard and the CLI; the runner does the Telegram work. Every change is written to the
database (the truth) and then announced on a Redis channel so the runner that owns the bot acts
within a second; the runner's periodic reconcile covers a lost announcement.
Tokens are validated with getMe before anything is saved, stored encrypted, and never returned:
views carry only `token_hint`.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, Bot, User, utcnow
from chatai.security import encrypt_secret, mask_secret
from chatai.services import audit, bot_events
from chatai.services.assistants import NotFound, get_owned_assistant
from chatai.settings import get_settings

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and a Bot API URL contains the token.
for _name in ("httpx", "httpcore"):
    if logging.getLogger(_name).level < logging.WARNING:  # NOTSET would inherit a DEBUG root
        logging.getLogger(_name).setLevel(logging.WARNING)

COMMANDS_CHANNEL = "chatai:bots:commands"  # {"action": start|stop|reload|pending, "bot_id": str[, "update_ids"]}
STATUS_CHANNEL = "chatai:bots:status"  # {"bot_id", "owner_id", "status", "last_error"} from runners
TOKEN_RE = re.compile(r"^\d{5,12}:[A-Za-z0-9_-]{30,50}$")
_TOKEN_ANYWHERE = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{30,50}")


class BotError(Exception):
    """code: bad_format | invalid_token | telegram_unreachable | already_connected | different_bot | telegram_error |
    email_unverified"""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BotView:
    """What a dashboard may show about a bot. Never the token."""

    id: uuid.UUID
    assistant_id: uuid.UUID
    assistant_name: str
    username: str
    token_hint: str
    mode: str
    status: str
    desired_state: str
    last_error: str
    last_error_at: datetime | None
    last_poll_at: datetime | None
    owner_id: uuid.UUID | None = None


def redact(text: str) -> str:
    """Remove anything shaped like a bot token from a message meant for logs or last_error."""
    return _TOKEN_ANYWHERE.sub(lambda m: mask_secret(m.group(0)), text)


@dataclass(frozen=True)
class TelegramIdentity:
    id: int
    username: str


async def get_me(token: str, *, http_timeout: float = 10.0) -> TelegramIdentity:
    """Ask Telegram who this token is. Raises BotError with a message a person can act on."""
    token = token.strip()
    if not TOKEN_RE.match(token):
        raise BotError("bad_format", "This does not look like a bot token. It has the form "
                                     "123456789:AA... and comes from @BotFather.")
    url = f"{get_settings().telegram_api_url.rstrip('/')}/bot{token}/getMe"
    try:
        async with httpx.AsyncClient(timeout=http_timeout) as client:
            response = await client.post(url)
    except httpx.HTTPError as exc:
        raise BotError("telegram_unreachable",
                       f"Could not reach Telegram to check the token ({type(exc).__name__}). Try again.") from None
    if response.status_code in (401, 404):
        raise BotError("invalid_token", f"Telegram rejected this token ({response.status_code} Unauthorized): "
                                        "check it in @BotFather")
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code != 200 or not payload.get("ok"):
        description = redact(str(payload.get("description") or response.reason_phrase))[:200]
        raise BotError("telegram_error", f"Telegram answered {response.status_code}: {description}")
    result = payload["result"]
    return TelegramIdentity(id=int(result["id"]), username=str(result.get("username") or ""))


async def publish_command(action: str, bot_id: uuid.UUID, *, update_ids: list[int] | None = None,
                          pending: list[dict[str, Any]] | None = None) -> None:
    """Tell runners now; if Redis is down the runner's reconcile picks the change up anyway. With "pending":
    `update_ids`, the updates just stored (the owning runner loads those, not every answer the bot owes), or
    `pending`, what storing them returned (bots/pending_wire.py: the runner answers without reading them back)."""
    from chatai.cache import get_redis

    command: dict[str, Any] = {"action": action, "bot_id": str(bot_id)}
    if update_ids:
        command["update_ids"] = update_ids
    if pending:
        command["pending"] = pending
    try:
        await get_redis().publish(COMMANDS_CHANNEL, json.dumps(command))
    except Exception:  # noqa: BLE001
        log.warning("bot command %s for %s not published; the runner reconcile will apply it", action, bot_id)


async def _email_verified(session: AsyncSession, owner_id: uuid.UUID) -> bool:
    """Owners who have not confirmed their address (mail on) cannot put a bot in front of the public."""
    from chatai.services.mail import verification_required

    if not verification_required():
        return True
    verified_at = (await session.execute(sa.select(User.email_verified_at).where(User.id == owner_id))).first()
    return verified_at is not None and verified_at[0] is not None


async def connect_bot(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID, token: str) -> Bot:
    """Validate with getMe first: a wrong or revoked token saves nothing."""
    await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    if not await _email_verified(session, owner_id):
        raise BotError("email_unverified", "Confirm your email address first: open the link we sent you "
                                           "(or send a new one from the banner at the top), then connect the bot.")
    token = token.strip()
    me = await get_me(token)
    existing = (await session.execute(sa.select(Bot).where(Bot.telegram_bot_id == me.id))).scalar_one_or_none()
    if existing is not None:
        raise BotError("already_connected", f"@{me.username} is already connected to an assistant. "
                                            "Disconnect it there first.")
    settings = get_settings()
    bot = Bot(assistant_id=assistant_id, owner_id=owner_id, telegram_bot_id=me.id, username=me.username,
              token_encrypted=encrypt_secret(token), token_hint=mask_secret(token), mode=settings.telegram_mode,
              webhook_secret=encrypt_secret(secrets.token_urlsafe(32)), desired_state="running", status="starting")
    session.add(bot)
    audit.record(session, actor_id=owner_id, action="bot.connect", target_type="bot", target_id=bot.id,
                 details={"username": me.username})
    try:
        await session.commit()
    except sa.exc.IntegrityError:
        await session.rollback()
        raise BotError("already_connected", f"@{me.username} is already connected to an assistant.") from None
    await publish_command("start", bot.id)
    return bot


def _view(bot: Bot, assistant_name: str) -> BotView:
    return BotView(id=bot.id, assistant_id=bot.assistant_id, assistant_name=assistant_name, username=bot.username,
                   token_hint=bot.token_hint, mode=bot.mode, status=bot.status, desired_state=bot.desired_state,
                   last_error=bot.last_error, last_error_at=bot.last_error_at, last_poll_at=bot.last_poll_at,
                   owner_id=bot.owner_id)


async def list_bots(session: AsyncSession, *, owner_id: uuid.UUID) -> list[BotView]:
    rows = await session.execute(
        sa.select(Bot, Assistant.name).join(Assistant, Assistant.id == Bot.assistant_id)
        .where(Bot.owner_id == owner_id).order_by(Bot.created_at)
    )
    return [_view(bot, name) for bot, name in rows.all()]


PAGE_SIZE = 50


@dataclass(frozen=True)
class BotPage:
    views: list[BotView]
    next_after: str  # the cursor of the next page; "" when this page is the last


def page_cursor(created_at: datetime, bot_id: uuid.UUID) -> str:
    return f"{created_at.isoformat()}_{bot_id}"


def parse_cursor(after: str) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a cursor names; None for "" or anything malformed (the first page)."""
    when, _, bot_id = after.rpartition("_")
    try:
        parsed = datetime.fromisoformat(when), uuid.UUID(bot_id)
    except ValueError:
        return None
    return parsed if parsed[0].tzinfo is not None else None


async def list_bots_page(session: AsyncSession, *, owner_id: uuid.UUID | None, after: str = "",
                         limit: int = PAGE_SIZE) -> BotPage:
    """One page of bots in the order they were connected: an owner's, or with owner_id None every bot of the
    platform (the caller checks the admin role). Keyset paging on (created_at, id), so page 200 of 10,000 bots
    costs what page 1 does (an OFFSET would read and drop every row before it)."""
    stmt = (sa.select(Bot, Assistant.name).join(Assistant, Assistant.id == Bot.assistant_id)
            .order_by(Bot.created_at, Bot.id).limit(limit + 1))
    if owner_id is not None:
        stmt = stmt.where(Bot.owner_id == owner_id)
    cursor = parse_cursor(after)
    if cursor is not None:
        stmt = stmt.where(sa.tuple_(Bot.created_at, Bot.id) > sa.tuple_(*cursor))
    rows = (await session.execute(stmt)).all()
    views = [_view(bot, name) for bot, name in rows[:limit]]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return BotPage(views=views, next_after=page_cursor(last.created_at, last.id) if last is not None else "")


async def count_bots(session: AsyncSession, *, owner_id: uuid.UUID) -> int:
    return int((await session.execute(sa.select(sa.func.count()).select_from(Bot)
                                      .where(Bot.owner_id == owner_id))).scalar_one())


async def list_all_bots(session: AsyncSession) -> list[BotView]:
    """Every bot of the platform (admin panel, CLI). The caller checks the admin role."""
    rows = await session.execute(
        sa.select(Bot, Assistant.name).join(Assistant, Assistant.id == Bot.assistant_id).order_by(Bot.created_at)
    )
    return [_view(bot, name) for bot, name in rows.all()]


async def get_owned_bot(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID) -> Bot:
    bot = await session.get(Bot, bot_id)
    if bot is None or bot.owner_id != owner_id:
        raise NotFound("bot")
    return bot


async def get_bot_view(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID) -> BotView:
    bot = await get_owned_bot(session, owner_id=owner_id, bot_id=bot_id)
    assistant = await session.get(Assistant, bot.assistant_id)
    return _view(bot, assistant.name if assistant else "")


_EVENTS = {"pause": ("paused", "Paused by the owner."), "resume": ("resumed", "Resumed by the owner."),
           "replace_token": ("token_replaced", "The bot token was replaced; the bot restarts with it.")}


async def _set(session: AsyncSession, bot: Bot, action: str, **values: Any) -> None:
    for key, value in values.items():
        setattr(bot, key, value)
    bot.updated_at = utcnow()
    session.add(bot)
    audit.record(session, actor_id=bot.owner_id, action=f"bot.{action}", target_type="bot", target_id=bot.id)
    if action in _EVENTS:  # the bot's event log (services/bot_events.py), same transaction
        kind, message = _EVENTS[action]
        await bot_events.record(session, bot_id=bot.id, owner_id=bot.owner_id, kind=kind, message=message)
    await session.commit()


# A bot a platform admin paused (services/admin.py): stopped like a paused one; only an admin resumes it.
ADMIN_PAUSED = "admin_paused"


def _refuse_if_admin_paused(bot: Bot) -> None:
    if bot.desired_state == ADMIN_PAUSED:
        raise BotError("admin_paused", "A platform administrator paused this bot. Contact support to resume it.")


async def pause_bot(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID) -> None:
    bot = await get_owned_bot(session, owner_id=owner_id, bot_id=bot_id)
    _refuse_if_admin_paused(bot)
    await _set(session, bot, "pause", desired_state="paused", status="paused")
    await publish_command("stop", bot_id)


async def resume_bot(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID) -> None:
    bot = await get_owned_bot(session, owner_id=owner_id, bot_id=bot_id)
    _refuse_if_admin_paused(bot)
    await _set(session, bot, "resume", desired_state="running", status="starting", last_error="")
    await publish_command("start", bot_id)


# An admin blocking the owner: the bot stops like a paused one, but the value says it was running, so
# unblocking restores exactly the owner's own choice (running bots come back, paused ones stay paused).
SUSPENDED = "suspended"


async def suspend_owner_bots(session: AsyncSession, *, owner_id: uuid.UUID) -> list[uuid.UUID]:
    """Stop every running bot of a blocked owner. Does not commit: publish the returned ids with
    `publish_commands("stop", ids)` after the caller's commit."""
    result = await session.execute(
        sa.update(Bot).where(Bot.owner_id == owner_id, Bot.desired_state == "running")
        .values(desired_state=SUSPENDED, status="paused", updated_at=utcnow()).returning(Bot.id))
    return list(result.scalars())


async def restore_owner_bots(session: AsyncSession, *, owner_id: uuid.UUID) -> list[uuid.UUID]:
    """Undo suspend_owner_bots on unblock. Does not commit; then `publish_commands("start", ids)`."""
    result = await session.execute(
        sa.update(Bot).where(Bot.owner_id == owner_id, Bot.desired_state == SUSPENDED)
        .values(desired_state="running", status="starting", last_error="", updated_at=utcnow()).returning(Bot.id))
    return list(result.scalars())


async def publish_commands(action: str, bot_ids: list[uuid.UUID]) -> None:
    for bot_id in bot_ids:
        await publish_command(action, bot_id)


async def disconnect_bot(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID) -> None:
    """Delete the bot (its dialogs stay, detached). The owning runner stops it and drops its webhook."""
    bot = await get_owned_bot(session, owner_id=owner_id, bot_id=bot_id)
    await session.delete(bot)
    audit.record(session, actor_id=owner_id, action="bot.disconnect", target_type="bot", target_id=bot_id,
                 details={"username": bot.username})
    await session.commit()
    await publish_command("stop", bot_id)


async def replace_token(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID, token: str) -> Bot:
    """A new token for the same Telegram bot (after /revoke in @BotFather); another bot's token is refused."""
    bot = await get_owned_bot(session, owner_id=owner_id, bot_id=bot_id)
    token = token.strip()
    me = await get_me(token)
    if me.id != bot.telegram_bot_id:
        raise BotError("different_bot", f"This token belongs to @{me.username}, not @{bot.username}. "
                                        "Connect it as a new bot instead.")
    await _set(session, bot, "replace_token", token_encrypted=encrypt_secret(token), token_hint=mask_secret(token),
               username=me.username, status="starting" if bot.desired_state == "running" else "paused",
               last_error="")
    await publish_command("reload", bot_id)
    return bot
