"""The people of a business and the businesses of a person: resolve a role, list, change, remove.

Every change is an audit event (action `team.*`, target the business) in the caller's transaction. Removing
someone ends all their sessions at once (the sessions table is the only truth about who is signed in), so an
open tab of theirs is refused on its very next event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import User, UserSession
from chatai.services import audit
from chatai.team.models import TEAM_ROLES, DialogAssignment, TeamMember
from chatai.team.roles import Access


class TeamError(Exception):
    """A refused team action; `code` is translated by the page (chatai/web/texts/team.py)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class BusinessChoice:
    business_id: uuid.UUID
    owner_email: str
    role: str


@dataclass(frozen=True)
class MemberView:
    user_id: uuid.UUID
    email: str
    role: str
    joined_at: datetime


async def resolve_access(session: AsyncSession, *, user_id: uuid.UUID, email: str,
                         business_id: uuid.UUID) -> Access | None:
    """The person's role in that business, or None: one query. A blocked owner's business is closed to
    their team too."""
    if business_id == user_id:
        return Access(user_id=user_id, email=email, business_id=business_id, role="owner")
    role = (await session.execute(
        sa.select(TeamMember.role).join(User, User.id == TeamMember.business_id)
        .where(TeamMember.business_id == business_id, TeamMember.user_id == user_id, User.blocked.is_(False))
    )).scalar()
    return Access(user_id=user_id, email=email, business_id=business_id, role=role) if role else None


async def businesses_of(session: AsyncSession, *, user_id: uuid.UUID, email: str) -> list[BusinessChoice]:
    """Their own business first, then those they were invited to (by owner address)."""
    rows = (await session.execute(
        sa.select(TeamMember.business_id, User.email, TeamMember.role).join(User, User.id == TeamMember.business_id)
        .where(TeamMember.user_id == user_id, User.blocked.is_(False)).order_by(User.email)
    )).all()
    return [BusinessChoice(user_id, email, "owner"), *[BusinessChoice(b, e, r) for b, e, r in rows]]


async def list_team(session: AsyncSession, *, business_id: uuid.UUID) -> list[MemberView]:
    rows = (await session.execute(
        sa.select(TeamMember.user_id, User.email, TeamMember.role, TeamMember.created_at)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.business_id == business_id).order_by(TeamMember.created_at)
    )).all()
    return [MemberView(*row) for row in rows]


async def add_member(session: AsyncSession, *, business_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    """A seat (or the new role of an existing one); the caller audits and commits."""
    if role not in TEAM_ROLES:
        raise TeamError("role_invalid")
    if user_id == business_id:
        raise TeamError("own_business")
    existing = (await session.execute(sa.select(TeamMember).where(
        TeamMember.business_id == business_id, TeamMember.user_id == user_id))).scalars().first()
    if existing is None:
        session.add(TeamMember(business_id=business_id, user_id=user_id, role=role))
    else:
        existing.role = role
        session.add(existing)
    await session.flush()


async def _member(session: AsyncSession, business_id: uuid.UUID, user_id: uuid.UUID) -> tuple[TeamMember, str]:
    row = (await session.execute(
        sa.select(TeamMember, User.email).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.business_id == business_id, TeamMember.user_id == user_id).with_for_update(of=TeamMember)
    )).first()
    if row is None:
        raise TeamError("member_not_found")
    return row[0], row[1]


async def change_role(session: AsyncSession, *, business_id: uuid.UUID, actor_id: uuid.UUID, user_id: uuid.UUID,
                      role: str, client: str = "") -> None:
    if role not in TEAM_ROLES:
        raise TeamError("role_invalid")
    member, email = await _member(session, business_id, user_id)
    before = member.role
    if before == role:
        return
    member.role = role
    session.add(member)
    audit.record(session, actor_id=actor_id, action="team.role_change", target_type="business",
                 target_id=business_id, details={"email": email, "user_id": str(user_id)}, before=before, after=role,
                 client=client)
    await session.commit()


async def remove_member(session: AsyncSession, *, business_id: uuid.UUID, actor_id: uuid.UUID,
                        user_id: uuid.UUID, client: str = "") -> int:
    """Removes the seat and the dialogs assigned to them, and ends every session of theirs. Returns how many
    sessions ended."""
    member, email = await _member(session, business_id, user_id)
    await session.delete(member)
    await session.execute(sa.delete(DialogAssignment).where(DialogAssignment.business_id == business_id,
                                                            DialogAssignment.user_id == user_id))
    ended = (await session.execute(sa.delete(UserSession).where(UserSession.user_id == user_id))).rowcount
    audit.record(session, actor_id=actor_id, action="team.remove", target_type="business", target_id=business_id,
                 details={"email": email, "user_id": str(user_id), "role": member.role, "sessions_ended": ended},
                 client=client)
    await session.commit()
    return ended
