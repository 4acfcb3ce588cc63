"""Audit log: who did what to which object. Written in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import AuditLog


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str = "",
    target_id: str | uuid.UUID = "",
    details: dict[str, Any] | None = None,
    client: str = "",
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details or {},
            client=client[:255],
        )
    )
