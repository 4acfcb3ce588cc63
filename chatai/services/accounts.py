"""Accounts: sign-up, sign-in with server-side sessions, sign-out, passwords, roles, blocking.

Errors are raised as AccountError (services/account_errors.py) with a stable `code` that the UI translates;
messages never reveal whether an email is registered. Every password hash and check goes through
services/password_attempts.py: counted against its limits first, then run off the event loop.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import User, UserSession, utcnow
from chatai.formatting import time_zone_or_default
from chatai.security import new_token, token_hash
from chatai.services import audit, billing, bots, mail, passwords
from chatai.services.account_errors import AccountError
from chatai.services.password_attempts import (
    SignInLimits,
    attempt,
    burn,
    check,
    hash_new,
    password_limit,
    pool_seat,
    signin_delay_seconds,
    signup_limit,
)
from chatai.services.ratelimit import release
from chatai.settings import get_settings

EMAIL_SHAPE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
ROLES = ("owner", "admin")
LOCALES = ("en", "ru")


@dataclass(frozen=True)
class CurrentUser:
    """What the web layer keeps about the signed-in user: plain values, no ORM row."""

    id: uuid.UUID
    email: str
    role: str
    locale: str
    email_verified: bool = True  # False only while mail is on and the address is not confirmed yet
    time_zone: str = "UTC"  # the business's clock for every time shown (chatai/formatting.py)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class SessionView:
    """One signed-in browser of the user, for the settings page: never the token or its hash."""

    id: uuid.UUID
    client: str
    created_at: datetime
    last_seen_at: datetime
    is_current: bool
    user_agent: str = ""


# last_seen_at is written at most this often per session: every event handler checks the session.
LAST_SEEN_EVERY = timedelta(minutes=1)


def _current(user: User) -> CurrentUser:
    return CurrentUser(id=user.id, email=user.email, role=user.role, locale=user.locale,
                       email_verified=is_verified(user), time_zone=user.time_zone)


def is_verified(user: User) -> bool:
    """Confirmed by a mailed link, or counts as such: with no mail nobody can confirm anything."""
    return user.email_verified_at is not None or not mail.verification_required()


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_SHAPE.match(email) or len(email) > 254:
        raise AccountError("invalid_email")
    return email


def check_password_strength(password: str, *, email: str = "") -> None:
    """The policy for a password being set (services/passwords.py); sign-in never applies it."""
    problem = passwords.password_problem(password, email=email)
    if problem:
        raise AccountError(problem)


async def create_user(
    session: AsyncSession, *, email: str, password: str, role: str = "owner", locale: str = "en",
    email_verified: bool = True, time_zone: str = "",
) -> User:
    """Admin-created users and the first admin are verified; sign-up passes email_verified=False."""
    email = normalize_email(email)
    check_password_strength(password, email=email)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    locale = locale if locale in LOCALES else "en"
    user = User(email=email, password_hash=await hash_new(password), role=role, locale=locale,
                time_zone=time_zone_or_default(time_zone, locale),
                email_verified_at=utcnow() if email_verified else None)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise AccountError("email_taken") from exc
    await billing.open_account(session, user_id=user.id, welcome=role == "owner")  # welcome credit, once
    audit.record(session, actor_id=user.id, action="user.create", target_type="user", target_id=user.id,
                 details={"role": role})
    await session.commit()
    return user


async def _start_session(session: AsyncSession, user: User, client: str, user_agent: str = "") -> str:
    token = new_token()
    ttl = timedelta(hours=get_settings().session_ttl_hours)
    session.add(UserSession(user_id=user.id, token_hash=token_hash(token), expires_at=utcnow() + ttl,
                            client=client[:255], user_agent=user_agent[:255]))
    await session.commit()
    return token


async def sign_up(session: AsyncSession, *, email: str, password: str, locale: str = "en",
                  client: str = "", user_agent: str = "", time_zone: str = "") -> str | None:
    """Every attempt counts against the client's sign-up limit, refused ones too (probing emails).

    Returns a session token; or, with email verification on, None ("check your inbox") for a new address
    and a taken one alike: the new owner gets a verification link, the existing owner a notice that someone
    tried, so the answer never tells whether the address has an account."""
    async with attempt((signup_limit(), client or "unknown"), refused="signup_rate_limited"):
        return await _sign_up(session, email=email, password=password, locale=locale, client=client,
                              user_agent=user_agent, time_zone=time_zone)


async def _sign_up(session: AsyncSession, *, email: str, password: str, locale: str, client: str,
                   user_agent: str, time_zone: str) -> str | None:
    if not mail.verification_required():
        user = await create_user(session, email=email, password=password, locale=locale, time_zone=time_zone)
        return await _start_session(session, user, client, user_agent)
    email = normalize_email(email)
    check_password_strength(password, email=email)  # about what was typed: says nothing about the account
    existing = await get_user_by_email(session, email=email)
    if existing is None:
        try:
            user = await create_user(session, email=email, password=password, locale=locale, email_verified=False,
                                     time_zone=time_zone)
        except AccountError as exc:
            if exc.code != "email_taken":
                raise
            existing = await get_user_by_email(session, email=email)  # signed up a moment ago
        else:
            from chatai.services.mailed_links import queue_verification  # it builds on this module

            await queue_verification(session, user)
            await session.commit()
            return None
    if existing is not None:
        await burn(password)  # the work a new account's hash would have cost
        await mail.enqueue(session, to=existing.email, kind="signup_existing", locale=existing.locale,
                           user_id=existing.id, values={"email": existing.email,
                                                        "signin_link": mail.link("/signin"),
                                                        "reset_link": mail.link("/forgot-password")})
        await session.commit()
    return None


async def sign_in(session: AsyncSession, *, email: str, password: str, client: str = "",
                  user_agent: str = "") -> str:
    """Returns a new session token. Refusals and delays depend only on the email as typed and the
    client, never on whether the account exists (SignInLimits).

    The attempt takes its slot in the pair and client limits atomically BEFORE the password is checked
    (counted as a failure until it proves right), so however many attempts arrive at once, no more than
    a limit allows are ever checked; the check itself runs off the event loop (services/password_work)."""
    limits = SignInLimits.from_settings()
    email_key = email.strip().lower()
    client_key = client or "unknown"
    slots = ((limits.pair, f"{email_key}|{client_key}"), (limits.client, client_key))
    delay = signin_delay_seconds(await limits.email.count(email_key))
    if delay:
        await asyncio.sleep(delay)
    # A seat in the password pool first (taken without waiting: a flood beyond the pool's room is refused
    # here, before any more Redis or database work), then the slot in the limits, then the check.
    async with pool_seat() as seat, attempt(*slots, refused="rate_limited"):
        user = (await session.execute(select(User).where(User.email == email_key))).scalars().first() \
            if EMAIL_SHAPE.match(email_key) else None
        await session.commit()  # the connection goes back to the pool while the check runs
        if user is None:
            await burn(password, seat)
            ok = False
        else:
            ok = await check(password, user.password_hash, seat)
    if not ok:
        await limits.email.hit(email_key)  # the pair and client slots stay taken: they were failures
        # A security event for the audit log; an unknown address is not written down (it may be a typo'd
        # password), only that an attempt failed.
        audit.record(session, actor_id=None, action="user.sign_in_failed", target_type="user" if user else "",
                     target_id=user.id if user else "", client=client)
        await session.commit()
        raise AccountError("bad_credentials")
    # A right password is no failure: the client's slot goes back, the pair's count starts again. The
    # per-email count stays: others may still be guessing, and it only slows, never refuses.
    await release(slots[1])
    if user.blocked:
        # Only said after a correct password: a blocked account is not enumerable either.
        await release(slots[0])
        raise AccountError("blocked")
    await limits.pair.reset(slots[0][1])
    audit.record(session, actor_id=user.id, action="user.sign_in", target_type="user", target_id=user.id,
                 client=client)
    return await _start_session(session, user, client, user_agent)


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
    now = utcnow()
    if user.blocked or user_session.expires_at <= now:
        return None
    if now - user_session.last_seen_at >= LAST_SEEN_EVERY:
        await session.execute(update(UserSession).where(UserSession.id == user_session.id).values(last_seen_at=now))
        await session.commit()
    return _current(user)


async def live_sessions(session: AsyncSession, *, user_id: uuid.UUID, token_hashes: set[str]) -> set[str]:
    """Which of these session token hashes are signed-in sessions of `user_id` now (not expired, user not
    blocked): the same test as user_for_token, for all the open tabs of a user in one statement (live views)."""
    if not token_hashes:
        return set()
    rows = await session.execute(
        select(UserSession.token_hash).join(User, User.id == UserSession.user_id)
        .where(UserSession.user_id == user_id, UserSession.token_hash.in_(token_hashes),
               UserSession.expires_at > utcnow(), User.blocked.is_(False)))
    return {str(h) for h in rows.scalars()}


async def list_sessions(session: AsyncSession, *, user_id: uuid.UUID, current_token: str = "") -> list[SessionView]:
    """The user's unexpired sessions, most recently seen first; `is_current` marks the one whose
    token is `current_token` (compared by hash: the list itself never carries tokens)."""
    current_hash = token_hash(current_token) if current_token else ""
    rows = (await session.execute(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at > utcnow())
        .order_by(UserSession.last_seen_at.desc())
    )).scalars().all()
    return [SessionView(id=r.id, client=r.client, created_at=r.created_at, last_seen_at=r.last_seen_at,
                        is_current=bool(current_hash) and r.token_hash == current_hash, user_agent=r.user_agent)
            for r in rows]


async def revoke_session(session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Ends one of the user's own sessions; someone else's session id is "not_found"."""
    result = await session.execute(
        delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id))
    if result.rowcount == 0:
        raise AccountError("not_found")
    audit.record(session, actor_id=user_id, action="user.revoke_session", target_type="user", target_id=user_id)
    await session.commit()


async def sign_out_everywhere(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Ends every session of the user, this browser's too. Returns how many ended."""
    result = await session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    audit.record(session, actor_id=user_id, action="user.sign_out_everywhere", target_type="user",
                 target_id=user_id)
    await session.commit()
    return result.rowcount


async def sign_out(session: AsyncSession, *, token: str) -> None:
    await session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))
    await session.commit()


async def change_password(session: AsyncSession, *, user_id: uuid.UUID, current_password: str,
                          new_password: str, keep_token: str = "") -> str:
    """Changes the password and ends every session; returns a fresh token for this browser."""
    user = await session.get(User, user_id)
    if user is None:
        raise AccountError("not_found")
    await session.commit()  # no database connection held during the check
    limit = password_limit("password-change")
    # Counted before the check, like sign-in: a stolen session cannot guess the current password at will.
    async with attempt((limit, str(user_id)), refused="password_rate_limited"):
        right = await check(current_password, user.password_hash)
    if not right:
        raise AccountError("wrong_password")
    await limit.reset(str(user_id))
    check_password_strength(new_password, email=user.email)
    user.password_hash = await hash_new(new_password)
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


async def set_blocked(session: AsyncSession, *, admin: CurrentUser, user_id: uuid.UUID, blocked: bool,
                      client: str = "") -> None:
    """Admins only. Blocking ends every open session of that user and stops their running bots (the
    runner acts on the published command within a second); unblocking starts again exactly the bots
    that blocking stopped, so bots the owner had paused stay paused."""
    if not admin.is_admin:
        raise PermissionError("admin only")
    if user_id == admin.id:
        raise AccountError("cannot_block_self")
    result = await session.execute(update(User).where(User.id == user_id).values(blocked=blocked))
    if result.rowcount == 0:
        raise AccountError("not_found")
    if blocked:
        await session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        bot_ids = await bots.suspend_owner_bots(session, owner_id=user_id)
    else:
        bot_ids = await bots.restore_owner_bots(session, owner_id=user_id)
    audit.record(session, actor_id=admin.id, action="user.block" if blocked else "user.unblock",
                 target_type="user", target_id=user_id, details={"bots": len(bot_ids)}, client=client,
                 before={"blocked": not blocked}, after={"blocked": blocked})
    await session.commit()
    await bots.publish_commands("stop" if blocked else "start", bot_ids)


async def reset_password(session: AsyncSession, *, email: str, new_password: str) -> User:
    """For an admin on the server (CLI): sets a new password under the current policy and ends every
    session of the account."""
    user = await get_user_by_email(session, email=email)
    if user is None:
        raise AccountError("not_found")
    check_password_strength(new_password, email=user.email)
    user.password_hash = await hash_new(new_password)
    user.password_changed_at = utcnow()
    session.add(user)
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit.record(session, actor_id=None, action="user.reset_password", target_type="user", target_id=user.id,
                 details={"by": "cli"})
    await session.commit()
    return user


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email.strip().lower()))).scalars().first()


async def count_admins(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(User).where(User.role == "admin"))).scalar_one()


async def purge_expired_sessions(session: AsyncSession) -> int:
    result = await session.execute(delete(UserSession).where(UserSession.expires_at <= utcnow()))
    await session.commit()
    return result.rowcount


# --- email: verification and password reset (services/email_tokens.py, services/mail.py) -------------------
