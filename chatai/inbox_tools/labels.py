"""Labels on dialogs: a business's own set (name + colour), put on and taken off its dialogs; the inbox
list filters by one (services/inbox.InboxFilter.label_id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.inbox_tools import ToolsError
from chatai.inbox_tools.access import require_dialog
from chatai.inbox_tools.models import DialogLabel, InboxLabel

# Radix colour names the badges use; anything else is refused (the value reaches a style prop).
COLORS = ("gray", "red", "orange", "amber", "green", "teal", "blue", "indigo", "purple", "pink")
MAX_NAME_CHARS = 48
MAX_LABELS = 100  # per business: a list this long is already hard to choose from


@dataclass(frozen=True)
class LabelRow:
    id: uuid.UUID
    name: str
    color: str


def _clean(name: str, color: str) -> tuple[str, str]:
    name = " ".join((name or "").split())
    if not name:
        raise ToolsError("label_empty")
    if len(name) > MAX_NAME_CHARS:
        raise ToolsError("too_long")
    if color not in COLORS:
        raise ToolsError("label_bad_color")
    return name, color


async def list_labels(session: AsyncSession, *, owner_id: uuid.UUID) -> list[LabelRow]:
    rows = (await session.execute(sa.select(InboxLabel.id, InboxLabel.name, InboxLabel.color)
                                  .where(InboxLabel.owner_id == owner_id).order_by(sa.func.lower(InboxLabel.name))))
    return [LabelRow(*r) for r in rows.all()]


async def _taken(session: AsyncSession, owner_id: uuid.UUID, name: str, but: uuid.UUID | None = None) -> bool:
    query = sa.select(InboxLabel.id).where(InboxLabel.owner_id == owner_id,
                                          sa.func.lower(InboxLabel.name) == name.lower())
    if but is not None:
        query = query.where(InboxLabel.id != but)
    return (await session.execute(query)).first() is not None


async def create_label(session: AsyncSession, *, owner_id: uuid.UUID, name: str, color: str) -> LabelRow:
    name, color = _clean(name, color)
    if await _taken(session, owner_id, name):
        raise ToolsError("label_exists")
    count = (await session.execute(sa.select(sa.func.count()).select_from(InboxLabel)
                                   .where(InboxLabel.owner_id == owner_id))).scalar_one()
    if count >= MAX_LABELS:
        raise ToolsError("label_limit")
    label = InboxLabel(owner_id=owner_id, name=name, color=color)
    session.add(label)
    await session.commit()
    return LabelRow(label.id, label.name, label.color)


async def _own_label(session: AsyncSession, owner_id: uuid.UUID, label_id: uuid.UUID) -> InboxLabel:
    label = await session.get(InboxLabel, label_id)
    if label is None or label.owner_id != owner_id:
        raise ToolsError("not_found")
    return label


async def update_label(session: AsyncSession, *, owner_id: uuid.UUID, label_id: uuid.UUID, name: str,
                       color: str) -> LabelRow:
    """Rename and/or recolour."""
    name, color = _clean(name, color)
    label = await _own_label(session, owner_id, label_id)
    if await _taken(session, owner_id, name, but=label_id):
        raise ToolsError("label_exists")
    label.name, label.color = name, color
    await session.commit()
    return LabelRow(label.id, label.name, label.color)


async def delete_label(session: AsyncSession, *, owner_id: uuid.UUID, label_id: uuid.UUID) -> None:
    """Gone from every dialog too (ON DELETE CASCADE)."""
    label = await _own_label(session, owner_id, label_id)
    await session.delete(label)
    await session.commit()


async def add_label(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                    label_id: uuid.UUID) -> None:
    await require_dialog(session, owner_id=owner_id, dialog_id=dialog_id)
    await _own_label(session, owner_id, label_id)
    await session.execute(insert(DialogLabel).values(dialog_id=dialog_id, label_id=label_id)
                          .on_conflict_do_nothing())
    await session.commit()


async def remove_label(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                       label_id: uuid.UUID) -> None:
    await require_dialog(session, owner_id=owner_id, dialog_id=dialog_id)
    await _own_label(session, owner_id, label_id)
    await session.execute(sa.delete(DialogLabel).where(DialogLabel.dialog_id == dialog_id,
                                                       DialogLabel.label_id == label_id))
    await session.commit()


async def labels_of_dialogs(session: AsyncSession, *, owner_id: uuid.UUID,
                            dialog_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[LabelRow]]:
    """The labels of each listed dialog (one query for a whole page of the inbox list)."""
    if not dialog_ids:
        return {}
    rows = (await session.execute(
        sa.select(DialogLabel.dialog_id, InboxLabel.id, InboxLabel.name, InboxLabel.color)
        .join(InboxLabel, InboxLabel.id == DialogLabel.label_id)
        .where(InboxLabel.owner_id == owner_id, DialogLabel.dialog_id.in_(dialog_ids))
        .order_by(sa.func.lower(InboxLabel.name)))).all()
    found: dict[uuid.UUID, list[LabelRow]] = {}
    for dialog_id, *label in rows:
        found.setdefault(dialog_id, []).append(LabelRow(*label))
    return found
