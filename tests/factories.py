"""Test data factories shared by every test folder."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class Tenant:
    owner_id: uuid.UUID
    assistant_id: uuid.UUID


async def make_tenant(email: str = "owner@example.com", *, name: str = "Support", **assistant_fields: Any) -> Tenant:
    """An owner (not signed in) with one assistant."""
    from chatai.db.models import Assistant, User
    from chatai.db.session import async_session

    async with async_session() as s:
        user = User(email=email, password_hash="-")
        s.add(user)
        await s.flush()
        assistant = Assistant(owner_id=user.id, name=name, **assistant_fields)
        s.add(assistant)
        await s.commit()
        return Tenant(user.id, assistant.id)
