"""Links sent by mail: verify an address, reset a password. Each is a random token shown once (in the mail),
stored as its SHA-256 only, valid for one use before it expires. Issuing a new one of a purpose voids the
user's earlier unused ones, so only the latest mail's link works.

The caller owns the session and commits.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.mail_models import EmailToken
from chatai.db.models import utcnow
from chatai.security import new_token, token_hash

PURPOSES = {"verify": timedelta(hours=48), "reset": timedelta(hours=1)}
MAX_TOKEN_LENGTH = 100  # ours are 43 characters; anything much longer is not worth hashing


def lifetime(purpose: str) -> timedelta:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return PURPOSES[purpose]


async def issue(session: AsyncSession, *, user_id: uuid.UUID, purpose: str) -> str:
    """A new token for the mail (returned raw, once); earlier unused ones of this purpose stop working."""
    ttl = lifetime(purpose)
    now = utcnow()
    await session.execute(sa.update(EmailToken).where(
        EmailToken.user_id == user_id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None))
        .values(used_at=now))
    token = new_token()
    session.add(EmailToken(user_id=user_id, purpose=purpose, token_hash=token_hash(token), expires_at=now + ttl))
    await session.flush()
    return token


def _usable(token: str, purpose: str) -> sa.ColumnElement[bool]:
    return sa.and_(EmailToken.token_hash == token_hash(token), EmailToken.purpose == purpose,
                   EmailToken.used_at.is_(None), EmailToken.expires_at > utcnow())


async def peek(session: AsyncSession, *, token: str, purpose: str) -> uuid.UUID | None:
    """The user a token is for while it is still usable, without using it (the reset page checks the link
    before asking for a password)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (await session.execute(sa.select(EmailToken.user_id).where(_usable(token, purpose)))).scalar()


async def consume(session: AsyncSession, *, token: str, purpose: str) -> uuid.UUID | None:
    """Use a token: the user it was for, or None when it is unknown, forged, expired or already used. One
    UPDATE decides, so two concurrent uses cannot both succeed."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (await session.execute(sa.update(EmailToken).where(_usable(token, purpose))
                                  .values(used_at=utcnow()).returning(EmailToken.user_id))).scalar()
