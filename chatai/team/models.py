"""Tables of team seats (migration 0023). Kept out of chatai/db/models.py so the feature stays in one place;
chatai/db/models.py imports this module last, so SQLModel.metadata (alembic, the test truncation) has them."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from chatai.db.models import _opt_ts, _ts

TEAM_ROLES = ("manager", "operator")


class TeamMember(SQLModel, table=True):
    """A person's seat in someone else's business. The owner has no row: owning is `business_id == user.id`."""

    __tablename__ = "team_members"
    __table_args__ = (sa.UniqueConstraint("business_id", "user_id", name="uq_team_members_business_user"),
                      sa.CheckConstraint("business_id <> user_id", name="ck_team_members_not_owner"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    business_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=16)  # manager | operator
    created_at: datetime = _ts()


class TeamInvitation(SQLModel, table=True):
    """A single-use, expiring link for one email address; only the token's hash is stored."""

    __tablename__ = "team_invitations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    business_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    email: str = Field(max_length=254)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    mailed: bool = False  # sent to the address (so accepting proves it), or a link the owner copies
    invited_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    accepted_at: datetime | None = _opt_ts()
    accepted_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    revoked_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class DialogAssignment(SQLModel, table=True):
    """Who of the team looks after a dialog (one person at most). Separate from `dialogs.operator_id`, which
    is who holds a take-over (the AI paused): a dialog can be assigned while the AI still answers."""

    __tablename__ = "dialog_assignments"
    __table_args__ = (sa.Index("ix_dialog_assignments_business_user", "business_id", "user_id"),)

    dialog_id: uuid.UUID = Field(foreign_key="dialogs.id", ondelete="CASCADE", primary_key=True)
    business_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    assigned_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    assigned_at: datetime = _ts()
