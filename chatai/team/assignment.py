"""Who of the team looks after a dialog: assign it to a person of the business (or take it), the
"mine / unassigned / all" inbox filter, and the assignees of the dialogs a page shows.

Every change is an audit event and a live nudge on the dialog channel (services/dialogs.publish_dialog_event),
so the other open inboxes of the business show it at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Dialog, User, utcnow
from chatai.services import audit
from chatai.services.dialogs import publish_dialog_event
from chatai.team.members import TeamError
from chatai.team.models import DialogAssignment, TeamMember

SCOPES = ("all", "mine", "unassigned")


@dataclass(frozen=True)
class Assignee:
    user_id: uuid.UUID
    email: str


def scope_condition(scope: str, *, user_id: uuid.UUID) -> tuple[str, dict]:
    """A WHERE fragment over the inbox query's dialog alias `d` (services/inbox.py) and its parameters."""
    if scope == "mine":
        return ("EXISTS (SELECT 1 FROM dialog_assignments da WHERE da.dialog_id = d.id AND da.user_id = :assignee)",
                {"assignee": user_id})
    if scope == "unassigned":
        return "NOT EXISTS (SELECT 1 FROM dialog_assignments da WHERE da.dialog_id = d.id)", {}
    return "", {}


async def people(session: AsyncSession, *, business_id: uuid.UUID) -> list[Assignee]:
    """Who a dialog can be assigned to: the owner, then the team."""
    owner = (await session.execute(sa.select(User.email).where(User.id == business_id))).scalar()
    team = (await session.execute(
        sa.select(TeamMember.user_id, User.email).join(User, User.id == TeamMember.user_id)
        .where(TeamMember.business_id == business_id).order_by(User.email))).all()
    return ([Assignee(business_id, owner)] if owner else []) + [Assignee(u, e) for u, e in team]


async def assignees(session: AsyncSession, *, business_id: uuid.UUID,
                    dialog_ids: list[uuid.UUID]) -> dict[uuid.UUID, Assignee]:
    if not dialog_ids:
        return {}
    rows = (await session.execute(
        sa.select(DialogAssignment.dialog_id, DialogAssignment.user_id, User.email)
        .join(User, User.id == DialogAssignment.user_id)
        .where(DialogAssignment.business_id == business_id, DialogAssignment.dialog_id.in_(dialog_ids)))).all()
    return {d: Assignee(u, e) for d, u, e in rows}


async def assign(session: AsyncSession, *, business_id: uuid.UUID, actor_id: uuid.UUID, dialog_id: uuid.UUID,
                 user_id: uuid.UUID | None, client: str = "") -> None:
    """Assign the business's dialog to one of its people, or unassign it (`user_id` None)."""
    owned = (await session.execute(sa.select(Dialog.id).where(Dialog.id == dialog_id,
                                                              Dialog.owner_id == business_id))).first()
    if owned is None:
        raise TeamError("dialog_not_found")
    email = ""
    if user_id is not None:
        person = next((p for p in await people(session, business_id=business_id) if p.user_id == user_id), None)
        if person is None:
            raise TeamError("member_not_found")
        email = person.email
    before = (await session.execute(
        sa.select(User.email).join(DialogAssignment, DialogAssignment.user_id == User.id)
        .where(DialogAssignment.dialog_id == dialog_id).with_for_update(of=DialogAssignment))).scalar()
    if (before or "") == email:
        return
    await session.execute(sa.delete(DialogAssignment).where(DialogAssignment.dialog_id == dialog_id))
    if user_id is not None:
        session.add(DialogAssignment(dialog_id=dialog_id, business_id=business_id, user_id=user_id,
                                     assigned_by=actor_id, assigned_at=utcnow()))
    audit.record(session, actor_id=actor_id, action="team.assign", target_type="business", target_id=business_id,
                 details={"dialog_id": str(dialog_id)}, before=before or "", after=email, client=client)
    await session.commit()
    await publish_dialog_event(dialog_id=dialog_id, owner_id=business_id, role="assignment")
