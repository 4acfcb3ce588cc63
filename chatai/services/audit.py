"""Audit log: who did what to which object, from where, with the values before and after.

Written in the caller's transaction, so an action and its row commit (or roll back) together. The table is
append-only in the database (migration 0010): history can be read and exported, never rewritten.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import AuditLog, User
from chatai.formatting import local_time

# Kinds of entry the admin filter offers: a prefix of `action`.
KINDS = ("user", "billing", "bot", "admin", "team")
EXPORT_LIMIT = 10_000


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str = "",
    target_id: str | uuid.UUID = "",
    details: dict[str, Any] | None = None,
    client: str = "",
    before: Any = None,
    after: Any = None,
) -> None:
    """`before`/`after` (when given) go into details under those keys: one shape for every change."""
    details = dict(details or {})
    if before is not None:
        details["before"] = before
    if after is not None:
        details["after"] = after
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details,
            client=client[:255],
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # part of the actor's email
    target: str = ""  # a target id (user, bot, promo code, price item), or part of one
    kind: str = ""  # one of KINDS, or a full action name
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    id: uuid.UUID
    created_at: datetime
    actor_email: str
    action: str
    target_type: str
    target_id: str
    client: str
    details: dict[str, Any]

    def details_text(self) -> str:
        return json.dumps(self.details, ensure_ascii=False, sort_keys=True)


def _where(query: sa.Select, f: AuditFilter) -> sa.Select:
    if f.actor.strip():
        query = query.where(User.email.ilike(f"%{_escape_like(f.actor.strip().lower())}%", escape="\\"))
    if f.target.strip():
        query = query.where(AuditLog.target_id.ilike(f"%{_escape_like(f.target.strip())}%", escape="\\"))
    if f.kind:
        query = query.where(AuditLog.action.like(f"{f.kind}.%") if f.kind in KINDS else AuditLog.action == f.kind)
    if f.since is not None:
        query = query.where(AuditLog.created_at >= f.since)
    if f.until is not None:
        query = query.where(AuditLog.created_at < f.until)
    return query


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(session: AsyncSession, *, where: AuditFilter, limit: int = 100,
                 before: tuple[datetime, uuid.UUID] | None = None) -> list[AuditRow]:
    """Newest first; `before` is the (created_at, id) of the last row of the previous page (keyset)."""
    query = _where(sa.select(AuditLog, User.email).outerjoin(User, User.id == AuditLog.actor_id), where)
    if before is not None:
        query = query.where(sa.tuple_(AuditLog.created_at, AuditLog.id) < sa.tuple_(*before))
    rows = (await session.execute(query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
                                  .limit(limit))).all()
    return [AuditRow(id=a.id, created_at=a.created_at, actor_email=email or "", action=a.action,
                     target_type=a.target_type, target_id=a.target_id, client=a.client, details=a.details or {})
            for a, email in rows]


async def export_csv(session: AsyncSession, *, where: AuditFilter, time_zone: str = "UTC") -> str:
    """The filtered log as CSV (newest first, at most EXPORT_LIMIT rows), times on the admin's clock with their
    offset (as the page lists them, and unambiguous). Cells that a spreadsheet would run as a formula are
    prefixed with a quote: the values come partly from users (emails, reasons)."""
    rows = await search(session, where=where, limit=EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "actor", "action", "target_type", "target_id", "client", "details"])
    for r in rows:
        writer.writerow([_cell(v) for v in (local_time(r.created_at, time_zone).isoformat(), r.actor_email, r.action,
                                            r.target_type, r.target_id, r.client, r.details_text())])
    return out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
