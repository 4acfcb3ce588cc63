"""Mailed one-time links of an account: the address verification and the password reset.

Sign-up (services/accounts.py) queues the first verification mail through queue_verification; the routes that
open the links are in web/session_cookie.py.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, update
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import User, UserSession, utcnow
from chatai.services import audit, email_tokens, mail
from chatai.services.account_errors import AccountError
from chatai.services.accounts import EMAIL_SHAPE, check_password_strength, get_user_by_email, is_verified
from chatai.services.password_attempts import attempt, hash_new, password_limit
from chatai.services.ratelimit import Limit

VERIFY_PATH = "/auth/verify"
RESET_PATH = "/reset-password"  # the page; the mailed link goes through RESET_LINK_PATH (web/session_cookie.py)
RESET_LINK_PATH = "/auth/reset"


def _resend_limit() -> Limit:
    return Limit("verify-resend", 3, 60 * 60)


def _reset_limits() -> tuple[Limit, Limit]:
    """Per client and per typed email: a mail bomb aimed at one inbox, or a scan, stops quietly."""
    return Limit("reset-client", 10, 60 * 60), Limit("reset-email", 3, 60 * 60)


async def queue_verification(session: AsyncSession, user: User) -> None:
    token = await email_tokens.issue(session, user_id=user.id, purpose="verify")
    hours = int(email_tokens.lifetime("verify").total_seconds() // 3600)
    await mail.enqueue(session, to=user.email, kind="verify", locale=user.locale, user_id=user.id,
                       values={"email": user.email, "hours": str(hours),
                               "link": mail.link(f"{VERIFY_PATH}?token={token}")})


async def resend_verification(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """The banner's "resend": at most 3 an hour per account."""
    user = await session.get(User, user_id)
    if user is None:
        raise AccountError("not_found")
    if is_verified(user):
        return
    limit, key = _resend_limit(), str(user_id)
    if await limit.exceeded(key):
        raise AccountError("mail_resend_rate_limited", retry_after=await limit.retry_after(key))
    await limit.hit(key)
    await queue_verification(session, user)
    await session.commit()


async def verify_email(session: AsyncSession, *, token: str) -> bool:
    """Use a verification link; False when it is unknown, used or expired."""
    user_id = await email_tokens.consume(session, token=token, purpose="verify")
    if user_id is None:
        await session.rollback()
        return False
    await session.execute(update(User).where(User.id == user_id, User.email_verified_at.is_(None))
                          .values(email_verified_at=utcnow()))
    audit.record(session, actor_id=user_id, action="user.verify_email", target_type="user", target_id=user_id)
    await session.commit()
    return True


async def request_password_reset(session: AsyncSession, *, email: str, client: str = "") -> None:
    """"Forgot password?": mails a reset link when the address has an (unblocked) account; says nothing
    either way, and raises nothing for an unknown address (the page answers the same)."""
    if not mail.mail_enabled():
        raise AccountError("mail_off")
    email_key = email.strip().lower()
    by_client, by_email = _reset_limits()
    client_key = client or "unknown"
    if await by_client.exceeded(client_key) or await by_email.exceeded(email_key):
        return  # quietly: a refusal here would tell a prober nothing, and a victim needs no more mail
    await by_client.hit(client_key)
    await by_email.hit(email_key)
    user = await get_user_by_email(session, email=email_key) if EMAIL_SHAPE.match(email_key) else None
    if user is None or user.blocked:
        return
    token = await email_tokens.issue(session, user_id=user.id, purpose="reset")
    await mail.enqueue(session, to=user.email, kind="reset", locale=user.locale, user_id=user.id,
                       values={"email": user.email, "link": mail.link(f"{RESET_LINK_PATH}?token={token}")})
    await session.commit()


async def reset_link_usable(session: AsyncSession, *, token: str) -> bool:
    return await email_tokens.peek(session, token=token, purpose="reset") is not None


async def reset_password_with_token(session: AsyncSession, *, token: str, new_password: str) -> None:
    """Sets the new password from a reset link: the link works once (a weak password does not use it up),
    every session of the account ends, and the address counts as verified (the mail reached its owner)."""
    user_id = await email_tokens.peek(session, token=token, purpose="reset")
    user = await session.get(User, user_id) if user_id else None
    if user is None or user.blocked:
        raise AccountError("mail_reset_link_invalid")
    check_password_strength(new_password, email=user.email)
    # Hashed before the link is used up (a busy pool leaves it working), at most so often per account.
    async with attempt((password_limit("password-reset"), str(user.id)), refused="password_rate_limited"):
        new_hash = await hash_new(new_password)
    if await email_tokens.consume(session, token=token, purpose="reset") != user.id:
        await session.rollback()
        raise AccountError("mail_reset_link_invalid")
    user.password_hash = new_hash
    user.password_changed_at = utcnow()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    session.add(user)
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    audit.record(session, actor_id=user.id, action="user.reset_password", target_type="user", target_id=user.id,
                 details={"by": "email"})
    await session.commit()
