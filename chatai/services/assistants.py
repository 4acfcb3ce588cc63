"""Assistants of an owner. Every read and write is scoped by owner: another owner's id is 'not found'."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, utcnow
from chatai.rag.certainty import CERTAINTY_LEVELS
from chatai.services import audit

EDITABLE_FIELDS = (
    "name", "system_prompt", "model", "temperature", "greeting", "language", "top_k", "score_threshold",
    "qa_direct_threshold", "handoff_enabled", "handoff_on_low_confidence", "handoff_timeout_minutes", "enabled",
    "answer_in_groups",
    "answer_certainty",
)


class NotFound(LookupError):
    """The object does not exist or belongs to someone else (the two are indistinguishable)."""


def _validate(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    if "name" in values:
        values["name"] = str(values["name"]).strip()
        if not values["name"] or len(values["name"]) > 120:
            raise ValueError("name must be 1-120 characters")
    if "temperature" in values and not 0 <= float(values["temperature"]) <= 2:
        raise ValueError("temperature must be between 0 and 2")
    if "top_k" in values and not 1 <= int(values["top_k"]) <= 50:
        raise ValueError("top_k must be between 1 and 50")
    for key in ("score_threshold", "qa_direct_threshold"):
        if key in values and not 0 <= float(values[key]) <= 1:
            raise ValueError(f"{key} must be between 0 and 1")
    if "language" in values and values["language"] not in ("auto", "en", "ru"):
        raise ValueError("language must be auto, en or ru")
    if "answer_certainty" in values and values["answer_certainty"] not in CERTAINTY_LEVELS:
        raise ValueError("answer_certainty must be careful, balanced or bold")
    if "handoff_timeout_minutes" in values and not 1 <= int(values["handoff_timeout_minutes"]) <= 24 * 60:
        raise ValueError("handoff timeout must be 1-1440 minutes")
    return values


async def create_assistant(session: AsyncSession, *, owner_id: uuid.UUID, name: str, **fields: Any) -> Assistant:
    values = _validate({"name": name, **fields})
    assistant = Assistant(owner_id=owner_id, **values)
    session.add(assistant)
    audit.record(session, actor_id=owner_id, action="assistant.create", target_type="assistant",
                 target_id=assistant.id)
    await session.commit()
    return assistant


async def list_assistants(session: AsyncSession, *, owner_id: uuid.UUID) -> list[Assistant]:
    rows = await session.execute(
        select(Assistant).where(Assistant.owner_id == owner_id).order_by(Assistant.created_at)
    )
    return list(rows.scalars())


async def get_owned_assistant(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> Assistant:
    assistant = await session.get(Assistant, assistant_id)
    if assistant is None or assistant.owner_id != owner_id:
        raise NotFound("assistant")
    return assistant


async def update_assistant(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID,
                           **fields: Any) -> Assistant:
    assistant = await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    for key, value in _validate(fields).items():
        setattr(assistant, key, value)
    assistant.updated_at = utcnow()
    session.add(assistant)
    audit.record(session, actor_id=owner_id, action="assistant.update", target_type="assistant",
                 target_id=assistant_id, details={"fields": sorted(fields)})
    await session.commit()
    return assistant


async def delete_assistant(session: AsyncSession, *, owner_id: uuid.UUID, assistant_id: uuid.UUID) -> None:
    assistant = await get_owned_assistant(session, owner_id=owner_id, assistant_id=assistant_id)
    await session.delete(assistant)
    audit.record(session, actor_id=owner_id, action="assistant.delete", target_type="assistant",
                 target_id=assistant_id)
    await session.commit()
