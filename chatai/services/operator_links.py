"""Linking Telegram accounts as operators of an owner (issue 22 part 1), used by the dashboard, the CLI and
the bot runner (bots/operator_chat.py).

The owner gets a one-time deep link `https://t.me/<bot>?start=<code>` to one of their connected bots:
valid LINK_TTL, used once. Opening it links the Telegram account that opened it (the runner calls
`redeem`). Only the code's hash is stored. Every owner-facing function checks what the owner owns and
raises OperatorLinkError(code) with a code the dashboard translates as `operators_err_<code>`.
Functions take the caller's session; the ones that write commit it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Bot, utcnow
from chatai.db.operator_models import OperatorAlertSettings, OperatorLinkCode, TelegramOperator

log = logging.getLogger(__name__)

LINK_TTL = timedelta(minutes=15)
CODE_PREFIX = "op_"  # a /start payload that is an operator link, never a customer's deep link
# Telegram runners cache who is an operator of their bots; a change anywhere is published here.
OPERATORS_CHANNEL = "chatai:operators:changed"  # {"bot_id"}
ERROR_CODES = ("not_found", "bot_not_ready", "bad_quiet_hours")
REDEEM_OUTCOMES = ("linked", "already", "expired", "used", "other_bot", "invalid")


class OperatorLinkError(Exception):
    """A refused request; `code` is one of ERROR_CODES (the dashboard shows `operators_err_<code>`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class LinkCode:
    code: str
    link: str
    bot_username: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkedOperator:
    id: uuid.UUID
    telegram_user_id: int
    name: str
    username: str
    bot_id: uuid.UUID
    bot_username: str
    linked_at: datetime

    def as_json(self) -> dict[str, object]:
        """The CLI's object (`operators list --json`)."""
        return {"telegram_user_id": self.telegram_user_id, "name": self.name, "bot": self.bot_username,
                "linked_at": self.linked_at.isoformat()}


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def is_link_payload(text: str) -> bool:
    """'/start op_…': an operator link being opened (cheap: the runner checks every /start)."""
    parts = text.split(maxsplit=1)
    return len(parts) == 2 and parts[0].split("@")[0] == "/start" and parts[1].startswith(CODE_PREFIX)


async def create_link_code(session: AsyncSession, *, owner_id: uuid.UUID, bot_id: uuid.UUID,
                           now: datetime | None = None) -> LinkCode:
    """A fresh one-time link to one of the owner's bots (another owner's bot is 'not_found')."""
    bot = await session.get(Bot, bot_id)
    if bot is None or bot.owner_id != owner_id:
        raise OperatorLinkError("not_found")
    if not bot.username:
        raise OperatorLinkError("bot_not_ready")  # no username known yet: no t.me link can be built
    now = now or utcnow()
    code = CODE_PREFIX + secrets.token_urlsafe(24)  # 35 characters, Telegram allows 64 of [A-Za-z0-9_-]
    row = OperatorLinkCode(code_hash=code_hash(code), owner_id=owner_id, bot_id=bot_id, created_at=now,
                           expires_at=now + LINK_TTL)
    session.add(row)
    await session.commit()
    return LinkCode(code=code, link=f"https://t.me/{bot.username}?start={code}", bot_username=bot.username,
                    expires_at=row.expires_at)


@dataclass(frozen=True)
class Redeemed:
    outcome: str  # one of REDEEM_OUTCOMES
    operator_id: uuid.UUID | None = None


async def redeem(session: AsyncSession, *, bot_id: uuid.UUID, code: str, telegram_user_id: int, chat_id: int,
                 name: str, username: str = "", language: str = "", now: datetime | None = None) -> Redeemed:
    """Link the Telegram account that opened the link, when the code is valid for this very bot. A code of
    another bot (another owner's, or the owner's other bot) links nothing: 'other_bot'."""
    now = now or utcnow()
    row = (await session.execute(sa.select(OperatorLinkCode).where(OperatorLinkCode.code_hash == code_hash(code))
                                 .with_for_update())).scalar_one_or_none()
    if row is None:
        await session.rollback()
        return Redeemed("invalid")
    if row.bot_id != bot_id:
        await session.rollback()
        return Redeemed("other_bot")
    if row.used_at is not None:
        await session.rollback()
        return Redeemed("used")
    if row.expires_at <= now:
        await session.rollback()
        return Redeemed("expired")
    row.used_at = now
    session.add(row)
    existing = (await session.execute(sa.select(TelegramOperator).where(
        TelegramOperator.bot_id == bot_id, TelegramOperator.telegram_user_id == telegram_user_id))).scalar_one_or_none()
    if existing is not None:
        existing.name, existing.username, existing.chat_id = name[:255], username[:64], chat_id
        session.add(existing)
        await session.commit()
        return Redeemed("already", existing.id)
    operator = TelegramOperator(owner_id=row.owner_id, bot_id=bot_id, telegram_user_id=telegram_user_id,
                                chat_id=chat_id, name=name[:255], username=username[:64], language=language[:16],
                                linked_at=now, alerted_until=now)
    session.add(operator)
    await session.commit()
    await publish_change(bot_id)
    return Redeemed("linked", operator.id)


async def list_operators(session: AsyncSession, *, owner_id: uuid.UUID) -> list[LinkedOperator]:
    rows = (await session.execute(
        sa.select(TelegramOperator.id, TelegramOperator.telegram_user_id, TelegramOperator.name,
                  TelegramOperator.username, TelegramOperator.bot_id, Bot.username, TelegramOperator.linked_at)
        .join(Bot, Bot.id == TelegramOperator.bot_id).where(TelegramOperator.owner_id == owner_id)
        .order_by(TelegramOperator.linked_at, TelegramOperator.id))).all()
    return [LinkedOperator(*row) for row in rows]


async def unlink(session: AsyncSession, *, owner_id: uuid.UUID, operator_id: uuid.UUID) -> None:
    """Another owner's operator is 'not_found'. The dialogs it held stay 'human' under the owner's name
    until released or timed out (its holds go with it)."""
    row = await session.get(TelegramOperator, operator_id)
    if row is None or row.owner_id != owner_id:
        raise OperatorLinkError("not_found")
    bot_id = row.bot_id
    await session.delete(row)
    await session.commit()
    await publish_change(bot_id)


async def publish_change(bot_id: uuid.UUID) -> None:
    """Tell the runners to forget what they cached about this bot's operators (best effort: they also
    re-read it after OPERATOR_CACHE_TTL)."""
    from chatai.cache import get_redis

    try:
        await get_redis().publish(OPERATORS_CHANNEL, json.dumps({"bot_id": str(bot_id)}))
    except Exception:  # noqa: BLE001 - see above
        log.debug("operator change not published", exc_info=True)


# --- quiet hours -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    start: int | None = None  # minutes after midnight
    end: int | None = None
    timezone: str = "UTC"

    @property
    def enabled(self) -> bool:
        return self.start is not None and self.end is not None and self.start != self.end

    def active(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        try:
            local = now.astimezone(ZoneInfo(self.timezone))
        except ZoneInfoNotFoundError:
            local = now
        minute = local.hour * 60 + local.minute
        assert self.start is not None and self.end is not None
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # spans midnight

    def as_text(self) -> tuple[str, str]:
        """('HH:MM', 'HH:MM'), or ('', '') when off: what the dashboard's fields show."""
        if not self.enabled:
            return "", ""
        assert self.start is not None and self.end is not None
        return f"{self.start // 60:02d}:{self.start % 60:02d}", f"{self.end // 60:02d}:{self.end % 60:02d}"


def parse_clock(value: str) -> int | None:
    """'22:30' -> 1350; '' -> None; anything else raises OperatorLinkError('bad_quiet_hours')."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise OperatorLinkError("bad_quiet_hours") from None
    return parsed.hour * 60 + parsed.minute


async def get_quiet_hours(session: AsyncSession, *, owner_id: uuid.UUID) -> QuietHours:
    row = await session.get(OperatorAlertSettings, owner_id)
    if row is None:
        return QuietHours()
    return QuietHours(row.quiet_start, row.quiet_end, row.timezone or "UTC")


async def set_quiet_hours(session: AsyncSession, *, owner_id: uuid.UUID, start: str, end: str,
                          timezone: str = "UTC") -> QuietHours:
    """Both times or neither ('' turns quiet hours off); an unknown time zone is refused."""
    start_minute, end_minute = parse_clock(start), parse_clock(end)
    if (start_minute is None) != (end_minute is None):
        raise OperatorLinkError("bad_quiet_hours")
    timezone = (timezone or "UTC").strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise OperatorLinkError("bad_quiet_hours") from None
    values = {"quiet_start": start_minute, "quiet_end": end_minute, "timezone": timezone, "updated_at": utcnow()}
    await session.execute(insert(OperatorAlertSettings).values(owner_id=owner_id, **values)
                          .on_conflict_do_update(index_elements=["owner_id"], set_=values))
    await session.commit()
    return QuietHours(start_minute, end_minute, timezone)
