"""Invitations to a business's team: single-use, expiring links for one email address, with a role.

The raw token is returned once (for the mail, or for the owner to copy when there is no SMTP); only its
SHA-256 is stored. Inviting the same address again voids the earlier link. Accepting needs the invited
address: a signed-in person with another address is refused, a visitor signs in or creates the account
with it. One conditional UPDATE uses the link, so two concurrent accepts cannot both succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import User, utcnow
from chatai.security import new_token, token_hash
from chatai.services import accounts, audit, mail
from chatai.services.account_errors import AccountError
from chatai.services.password_attempts import attempt, signup_limit
from chatai.team.members import TeamError, add_member
from chatai.team.models import TEAM_ROLES, TeamInvitation, TeamMember

INVITATION_LIFETIME = timedelta(days=7)
MAX_TOKEN_LENGTH = 100
MAX_PENDING = 50  # per business: a team page, not a mailing tool
INVITE_PATH = "/auth/invite"  # moves the token into a cookie, then to /invite (web/session_cookie.py)


@dataclass(frozen=True)
class IssuedInvitation:
    id: uuid.UUID
    link: str  # the one place the raw token appears
    mailed: bool


@dataclass(frozen=True)
class PendingInvitation:
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime
    mailed: bool


@dataclass(frozen=True)
class InvitationView:
    """What the invitation page shows a visitor holding a usable link."""

    business_id: uuid.UUID
    owner_email: str
    email: str
    role: str
    has_account: bool


def invitation_link(token: str) -> str:
    return mail.link(f"{INVITE_PATH}?token={token}")


async def invite(session: AsyncSession, *, business_id: uuid.UUID, actor_id: uuid.UUID, email: str, role: str,
                 inviter_email: str, role_label: str, locale: str, client: str = "") -> IssuedInvitation:
    """`role_label` is the role in words of `locale` (the mail's language), chosen by the web layer."""
    if role not in TEAM_ROLES:
        raise TeamError("role_invalid")
    try:
        email = accounts.normalize_email(email)
    except AccountError as exc:
        raise TeamError("invalid_email") from exc
    owner_email = (await session.execute(sa.select(User.email).where(User.id == business_id))).scalar()
    if email == owner_email:
        raise TeamError("own_business")
    already = (await session.execute(
        sa.select(TeamMember.id).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.business_id == business_id, User.email == email))).first()
    if already is not None:
        raise TeamError("already_member")
    now = utcnow()
    pending = await _pending_query(session, business_id, now)
    if len(pending) >= MAX_PENDING:
        raise TeamError("too_many_invitations")
    await session.execute(sa.update(TeamInvitation).where(
        TeamInvitation.business_id == business_id, TeamInvitation.email == email,
        TeamInvitation.accepted_at.is_(None), TeamInvitation.revoked_at.is_(None)).values(revoked_at=now))
    token = new_token()
    link = invitation_link(token)
    mailed = await mail.enqueue(session, to=email, kind="team_invite", locale=locale,
                                values={"inviter": inviter_email, "role": role_label,
                                        "days": str(INVITATION_LIFETIME.days), "link": link})
    row = TeamInvitation(business_id=business_id, email=email, role=role, token_hash=token_hash(token),
                         mailed=mailed, invited_by=actor_id, expires_at=now + INVITATION_LIFETIME)
    session.add(row)
    audit.record(session, actor_id=actor_id, action="team.invite", target_type="business", target_id=business_id,
                 details={"email": email, "role": role, "mailed": mailed}, client=client)
    await session.commit()
    return IssuedInvitation(id=row.id, link=link, mailed=mailed)


async def _pending_query(session: AsyncSession, business_id: uuid.UUID, now: datetime) -> list[TeamInvitation]:
    return list((await session.execute(sa.select(TeamInvitation).where(
        TeamInvitation.business_id == business_id, TeamInvitation.accepted_at.is_(None),
        TeamInvitation.revoked_at.is_(None), TeamInvitation.expires_at > now)
        .order_by(TeamInvitation.created_at.desc()))).scalars())


async def list_pending(session: AsyncSession, *, business_id: uuid.UUID) -> list[PendingInvitation]:
    return [PendingInvitation(i.id, i.email, i.role, i.expires_at, i.mailed)
            for i in await _pending_query(session, business_id, utcnow())]


async def revoke(session: AsyncSession, *, business_id: uuid.UUID, actor_id: uuid.UUID, invitation_id: uuid.UUID,
                 client: str = "") -> None:
    email = (await session.execute(sa.update(TeamInvitation).where(
        TeamInvitation.id == invitation_id, TeamInvitation.business_id == business_id,
        TeamInvitation.accepted_at.is_(None), TeamInvitation.revoked_at.is_(None))
        .values(revoked_at=utcnow()).returning(TeamInvitation.email))).scalar()
    if email is None:
        raise TeamError("invitation_not_found")
    audit.record(session, actor_id=actor_id, action="team.invite_revoke", target_type="business",
                 target_id=business_id, details={"email": email}, client=client)
    await session.commit()


def _usable(token: str) -> sa.ColumnElement[bool]:
    return sa.and_(TeamInvitation.token_hash == token_hash(token), TeamInvitation.accepted_at.is_(None),
                   TeamInvitation.revoked_at.is_(None), TeamInvitation.expires_at > utcnow())


async def peek(session: AsyncSession, *, token: str) -> InvitationView | None:
    """The invitation behind a usable link, or None (unknown, used, revoked or expired alike)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = (await session.execute(
        sa.select(TeamInvitation, User.email).join(User, User.id == TeamInvitation.business_id)
        .where(_usable(token), User.blocked.is_(False)))).first()
    if row is None:
        return None
    invitation, owner_email = row
    has_account = (await session.execute(sa.select(User.id).where(User.email == invitation.email))).first()
    return InvitationView(invitation.business_id, owner_email, invitation.email, invitation.role,
                          has_account is not None)


async def accept(session: AsyncSession, *, token: str, user_id: uuid.UUID, email: str,
                 client: str = "") -> uuid.UUID:
    """The signed-in person takes their seat; returns the business. Refused for another address."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TeamError("invitation_unusable")
    invited = (await session.execute(sa.select(TeamInvitation.email).where(_usable(token)))).scalar()
    if invited is None:
        raise TeamError("invitation_unusable")
    if invited != email:
        raise TeamError("invitation_other_email")
    used = (await session.execute(sa.update(TeamInvitation).where(_usable(token))
                                  .values(accepted_at=utcnow(), accepted_by=user_id)
                                  .returning(TeamInvitation.business_id, TeamInvitation.role))).first()
    if used is None:  # used by a concurrent request meanwhile
        raise TeamError("invitation_unusable")
    business_id, role = used
    await add_member(session, business_id=business_id, user_id=user_id, role=role)
    audit.record(session, actor_id=user_id, action="team.join", target_type="business", target_id=business_id,
                 details={"email": email, "role": role}, client=client)
    await session.commit()
    return business_id


async def sign_up_and_accept(session: AsyncSession, *, token: str, password: str, locale: str,
                             client: str = "") -> tuple[str, uuid.UUID]:
    """A visitor without an account creates it with the invited address and joins: (session token, business).
    Counted against the client's sign-up limit like any sign-up. The address counts as confirmed only when
    the link was mailed to it."""
    view = await peek(session, token=token)
    if view is None:
        raise TeamError("invitation_unusable")
    mailed = bool((await session.execute(sa.select(TeamInvitation.mailed).where(_usable(token)))).scalar())
    async with attempt((signup_limit(), client or "unknown"), refused="signup_rate_limited"):
        user = await accounts.create_user(session, email=view.email, password=password, locale=locale,
                                          email_verified=mailed or not mail.verification_required())
    business_id = await accept(session, token=token, user_id=user.id, email=user.email, client=client)
    return await accounts.sign_in(session, email=view.email, password=password, client=client), business_id


async def sign_in_and_accept(session: AsyncSession, *, token: str, password: str,
                             client: str = "") -> tuple[str, uuid.UUID]:
    """A visitor whose address has an account signs in with it (the usual limits apply) and joins."""
    view = await peek(session, token=token)
    if view is None:
        raise TeamError("invitation_unusable")
    session_token = await accounts.sign_in(session, email=view.email, password=password, client=client)
    user = await accounts.user_for_token(session, session_token)
    if user is None:
        raise TeamError("invitation_unusable")
    return session_token, await accept(session, token=token, user_id=user.id, email=user.email, client=client)
