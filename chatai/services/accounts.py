"""Accounts: sign-up, sign-in with server-side sessions, sign-out, passwords, roles, blocking.

Errors are raised as AccountError with a stable `code` that the UI translates; messages never
reveal whether an email is registered.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import BillingAccount, User, UserSession, utcnow
from chatai.security import (
    MIN_PASSWORD_LENGTH,
    burn_password_check,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from chatai.services import audit
from chatai.services.ratelimit import Limit
from chatai.settings import get_settings

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
ROLES = ("owner", "admin")
LOCALES = ("en", "ru")


class AccountError(Exception):
    """code: invalid_email | weak_password | email_taken | bad_credentials | rate_limited |
    blocked | wrong_password | not_found | session_expired"""

    def __init__(self, code: str, retry_after: int = 0):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class CurrentUser:
    """What the web layer keeps about the signed-in user: plain values, no ORM row."""

    id: uuid.UUID
    email: str
    role: str
    locale: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _current(user: User) -> CurrentUser:
    return CurrentUser(id=user.id, email=user.email, role=user.role, locale=user.locale)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise AccountError("invalid_email")
    return email


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > 1024:
        raise AccountError("weak_password")


def _limits() -> tuple[Limit, Limit]:
    s = get_settings()
    per_email = Limit("signin-email", s.signin_max_attempts, s.signin_window_seconds)
    # A client (IP) may try several accounts, but not brute-force many.
    per_client = Limit("signin-client", s.signin_max_attempts * 4, s.signin_window_seconds)
    return per_email, per_client


async def create_user(
    session: AsyncSession, *, email: str, password: str, role: str = "owner", locale: str = "en"
) -> User:
    email = normalize_email(email)
    check_password_strength(password)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user = User(email=email, password_hash=hash_password(password), role=role,
                locale=locale if locale in LOCALES else "en")
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise AccountError("email_taken") from exc
    session.add(BillingAccount(user_id=user.id))
    audit.record(session, actor_id=user.id, action="user.create", target_type="user", target_id=user.id,
                 details={"role": role})
    await session.commit()
    return user


async def _start_session(session: AsyncSession, user: User, client: str) -> str:
    token = new_token()
    ttl = timedelta(hours=get_settings().session_ttl_hours)
    session.add(UserSession(user_id=user.id, token_hash=token_hash(token), expires_at=utcnow() + ttl,
                            client=client[:255]))
    await session.commit()
    return token


async def sign_up(session: AsyncSession, *, email: str, password: str, locale: str = "en",
                  client: str = "") -> str:
    user = await create_user(session, email=email, password=password, locale=locale)
    return await _start_session(session, user, client)


async def sign_in(session: AsyncSession, *, email: str, password: str, client: str = "") -> str:
    """Returns a new session token. Rate-limited per email and per client."""
    per_email, per_client = _limits()
    email_key = email.strip().lower()
    client_key = client or "unknown"
    for limit, key in ((per_email, email_key), (per_client, client_key)):
        if await limit.exceeded(key):
            raise AccountError("rate_limited", retry_after=await limit.retry_after(key))

    user = (await session.execute(select(User).where(User.email == email_key))).scalars().first() \
        if _EMAIL.match(email_key) else None
    if user is None:
        burn_password_check(password)
        ok = False
    else:
        ok = verify_password(password, user.password_hash)
    if not ok:
        await per_email.hit(email_key)
        await per_client.hit(client_key)
        raise AccountError("bad_credentials")
    if user.blocked:
        # Only said after a correct password: a blocked account is not enumerable either.
        raise AccountError("blocked")
    await per_email.reset(email_key)
    audit.record(session, actor_id=user.id, action="user.sign_in", target_type="user", target_id=user.id,
                 client=client)
    return await _start_session(session, user, client)


async def user_for_token(session: AsyncSession, token: str) -> CurrentUser | None:
    """The signed-in user for a session token, or None when the session is unknown, expired,
    or its user is blocked. Called by every page load and every event handler."""
    if not token:
        return None
    row = (
        await session.execute(
            select(User, UserSession)
            .join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        return None
    user, user_session = row
    if user.blocked or user_session.expires_at <= utcnow():
        return None
    return _current(user)


async def sign_out(session: AsyncSession, *, token: str) -> None:
    await session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))
    await session.commit()


async def change_password(session: AsyncSession, *, user_id: uuid.UUID, current_password: str,
                          new_password: str, keep_token: str = "") -> str:
    """Changes the password and ends every session; returns a fresh token for this browser."""
    user = await session.get(User, user_id)
    if user is None:
        raise AccountError("not_found")
    if not verify_password(current_password, user.password_hash):
        raise AccountError("wrong_password")
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    session.add(user)
    await session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    audit.record(session, actor_id=user_id, action="user.change_password", target_type="user", target_id=user_id)
    await session.commit()
    return await _start_session(session, user, "")


async def set_locale(session: AsyncSession, *, user_id: uuid.UUID, locale: str) -> None:
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    await session.execute(update(User).where(User.id == user_id).values(locale=locale))
    await session.commit()


async def set_blocked(session: AsyncSession, *, admin: CurrentUser, user_id: uuid.UUID, blocked: bool) -> None:
    """Admins only. Blocking also ends every open session of that user."""
    if not admin.is_admin:
        raise PermissionError("admin only")
    if user_id == admin.id:
        raise AccountError("cannot_block_self")
    result = await session.execute(update(User).where(User.id == user_id).values(blocked=blocked))
    if result.rowcount == 0:
        raise AccountError("not_found")
    if blocked:
        await session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    audit.record(session, actor_id=admin.id, action="user.block" if blocked else "user.unblock",
                 target_type="user", target_id=user_id)
    await session.commit()


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email.strip().lower()))).scalars().first()


async def count_admins(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(User).where(User.role == "admin"))).scalar_one()


async def purge_expired_sessions(session: AsyncSession) -> int:
    result = await session.execute(delete(UserSession).where(UserSession.expires_at <= utcnow()))
    await session.commit()
    return result.rowcount
