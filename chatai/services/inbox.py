"""The owner's inbox: every conversation of every bot (and the playground) in one list, transcripts,
full-text search and what is unread. Read-only except `mark_read`; handoff actions live in
services/handoff.py.

Paging is by keyset on (last_message_at, id), newest first, so page N costs the same as page 1 with
100k dialogs. Every function takes the owner and only ever returns that owner's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import TSV_EXPRESSION, Message

STATUSES = ("ai", "waiting", "human")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
TRANSCRIPT_LIMIT = 300
PREVIEW_CHARS = 160
MAX_SEARCH_CHARS = 200
UNREAD_CAP = 100  # counting beyond this costs time on every live update and changes nothing on the badge

# The expression of the GIN index ix_messages_tsv (migration 0005): the planner uses the index only
# when the query repeats it (a table alias is fine).
_MESSAGE_TSV = "(" + TSV_EXPRESSION.format(col="m.text") + ")"
_SEARCH_QUERY = "(websearch_to_tsquery('english', :q) || websearch_to_tsquery('russian', :q))"


class InboxNotFound(LookupError):
    """No such dialog for this owner (or a malformed id): callers show "not found", never whose it is."""


@dataclass(frozen=True)
class InboxFilter:
    assistant_id: uuid.UUID | None = None
    bot_id: uuid.UUID | None = None
    status: str = ""  # "" (all) | ai | waiting | human
    channel: str = ""  # "" (all) | telegram | web | playground | business (conversation/channel.CHANNELS)
    since: datetime | None = None  # last activity at or after
    until: datetime | None = None  # last activity before
    search: str = ""  # words in any message of the dialog (English and Russian stemming)
    label_id: uuid.UUID | None = None  # dialogs carrying this label (chatai/inbox_tools/labels.py)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last row of this one."""

    last_message_at: datetime
    dialog_id: uuid.UUID

    def encode(self) -> str:
        return f"{self.last_message_at.isoformat()}|{self.dialog_id}"

    @classmethod
    def decode(cls, value: str) -> Cursor | None:
        try:
            stamp, dialog_id = value.split("|", 1)
            return cls(datetime.fromisoformat(stamp), uuid.UUID(dialog_id))
        except ValueError:
            return None


@dataclass(frozen=True)
class DialogRow:
    id: uuid.UUID
    status: str
    channel: str  # telegram | web | playground | business
    user_name: str
    assistant_id: uuid.UUID
    assistant_name: str
    bot_username: str
    last_message_at: datetime
    preview_role: str
    preview: str  # a system message's preview is its event code
    unread: int
    messages: int


@dataclass(frozen=True)
class DialogPage:
    rows: list[DialogRow]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class TranscriptMessage:
    id: uuid.UUID
    role: str  # user | assistant | operator | system
    text: str
    answered_by: str
    sources: list[dict[str, Any]]
    operator_email: str
    created_at: datetime
    delivery_status: str = ""
    delivery_error: str = ""


@dataclass(frozen=True)
class Transcript:
    dialog: DialogRow
    handoff_at: datetime | None
    operator_id: uuid.UUID | None
    messages: list[TranscriptMessage] = field(default_factory=list)
    earlier: int = 0  # messages older than those returned


@dataclass(frozen=True)
class UnreadSummary:
    unread: int  # user messages the owner has not seen, at most UNREAD_CAP (the badge shows "99+")
    waiting: int  # dialogs waiting for a person
    latest_waiting_id: uuid.UUID | None = None  # the one that started waiting last (the live notice)
    latest_waiting_name: str = ""


def _dialog_select(where: str, order_limit: str) -> str:
    return f"""
        SELECT d.id, d.status, d.channel, d.user_name, d.assistant_id, a.name AS assistant_name,
               coalesce(b.username, '') AS bot_username, d.last_message_at,
               coalesce(lm.role, '') AS preview_role, coalesce(left(lm.text, {PREVIEW_CHARS}), '') AS preview,
               CASE WHEN d.last_message_at > d.owner_read_at THEN
                   (SELECT count(*) FROM messages u
                     WHERE u.dialog_id = d.id AND u.created_at > d.owner_read_at AND u.role = 'user')
               ELSE 0 END AS unread,
               (SELECT count(*) FROM messages c WHERE c.dialog_id = d.id) AS messages,
               d.handoff_at, d.operator_id
        FROM dialogs d
        JOIN assistants a ON a.id = d.assistant_id
        LEFT JOIN bots b ON b.id = d.bot_id
        LEFT JOIN LATERAL (SELECT m.role, m.text FROM messages m WHERE m.dialog_id = d.id
                           ORDER BY m.created_at DESC LIMIT 1) lm ON true
        WHERE {where}
        {order_limit}
    """


def _row(r: Any) -> DialogRow:
    return DialogRow(id=r.id, status=r.status, channel=r.channel, user_name=r.user_name, assistant_id=r.assistant_id,
                     assistant_name=r.assistant_name, bot_username=r.bot_username, last_message_at=r.last_message_at,
                     preview_role=r.preview_role, preview=r.preview, unread=int(r.unread), messages=int(r.messages))


async def list_dialogs(session: AsyncSession, *, owner_id: uuid.UUID, filters: InboxFilter = InboxFilter(),
                       cursor: Cursor | None = None, limit: int = PAGE_SIZE) -> DialogPage:
    """One page of the owner's dialogs, most recent activity first."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    where = ["d.owner_id = :owner"]
    params: dict[str, Any] = {"owner": owner_id, "limit": limit + 1}
    if filters.assistant_id is not None:
        where.append("d.assistant_id = :assistant")
        params["assistant"] = filters.assistant_id
    if filters.bot_id is not None:
        where.append("d.bot_id = :bot")
        params["bot"] = filters.bot_id
    if filters.status:
        if filters.status not in STATUSES:
            return DialogPage([], None)
        where.append("d.status = :status")
        params["status"] = filters.status
    if filters.channel:
        where.append("d.channel = :channel")
        params["channel"] = filters.channel
    if filters.since is not None:
        where.append("d.last_message_at >= :since")
        params["since"] = filters.since
    if filters.until is not None:
        where.append("d.last_message_at < :until")
        params["until"] = filters.until
    if filters.label_id is not None:
        where.append("d.id IN (SELECT dl.dialog_id FROM dialog_labels dl WHERE dl.label_id = :label)")
        params["label"] = filters.label_id
    if cursor is not None:
        where.append("(d.last_message_at, d.id) < (:cursor_at, :cursor_id)")
        params.update(cursor_at=cursor.last_message_at, cursor_id=cursor.dialog_id)
    words = filters.search.strip()[:MAX_SEARCH_CHARS]
    if words:
        where.append(f"d.id IN (SELECT m.dialog_id FROM messages m WHERE {_MESSAGE_TSV} @@ {_SEARCH_QUERY})")
        params["q"] = words
    sql = _dialog_select(" AND ".join(where), "ORDER BY d.last_message_at DESC, d.id DESC LIMIT :limit")
    rows = [_row(r) for r in (await session.execute(sa.text(sql), params)).all()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1].last_message_at, rows[-1].id)
    return DialogPage(rows, next_cursor)


async def dialog_rows(session: AsyncSession, *, owner_id: uuid.UUID,
                      dialog_ids: set[uuid.UUID]) -> dict[uuid.UUID, DialogRow]:
    """The list rows of these dialogs of this owner (others' ids are simply absent): what a live update
    pushes to every open inbox of the owner instead of each re-reading its list."""
    if not dialog_ids:
        return {}
    sql = _dialog_select("d.owner_id = :owner AND d.id = ANY(:ids)", "")
    result = await session.execute(sa.text(sql), {"owner": owner_id, "ids": list(dialog_ids)})
    return {row.id: row for row in (_row(r) for r in result.all())}


async def get_dialog_row(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID) -> DialogRow:
    sql = _dialog_select("d.id = :dialog AND d.owner_id = :owner", "")
    row = (await session.execute(sa.text(sql), {"dialog": dialog_id, "owner": owner_id})).first()
    if row is None:
        raise InboxNotFound(str(dialog_id))
    return _row(row)


# Delivery columns of operator messages come with the handoff migration (0006): read them when the
# model has them, so this module does not depend on that feature being installed.
_DELIVERY = ("m.delivery_status, m.delivery_error" if "delivery_status" in Message.model_fields
             else "'' AS delivery_status, '' AS delivery_error")
_TRANSCRIPT = sa.text(f"""
    SELECT m.id, m.role, m.text, m.answered_by, m.sources, coalesce(u.email, '') AS operator_email, m.created_at,
           {_DELIVERY}
    FROM messages m LEFT JOIN users u ON u.id = m.operator_id
    WHERE m.dialog_id = :dialog
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT :limit
""")


async def get_transcript(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                         limit: int = TRANSCRIPT_LIMIT) -> Transcript:
    """The dialog with its latest `limit` messages, oldest first."""
    sql = _dialog_select("d.id = :dialog AND d.owner_id = :owner", "")
    head = (await session.execute(sa.text(sql), {"dialog": dialog_id, "owner": owner_id})).first()
    if head is None:
        raise InboxNotFound(str(dialog_id))
    rows = (await session.execute(_TRANSCRIPT, {"dialog": dialog_id, "limit": limit})).all()
    messages = [TranscriptMessage(
        id=r.id, role=r.role, text=r.text, answered_by=r.answered_by, sources=list(r.sources or []),
        operator_email=r.operator_email, created_at=r.created_at, delivery_status=r.delivery_status or "",
        delivery_error=r.delivery_error or "",
    ) for r in reversed(rows)]
    dialog = _row(head)
    return Transcript(dialog=dialog, handoff_at=head.handoff_at, operator_id=head.operator_id, messages=messages,
                      earlier=max(0, dialog.messages - len(messages)))


async def mark_read(session: AsyncSession, *, owner_id: uuid.UUID, dialog_id: uuid.UUID,
                    until: datetime | None = None) -> None:
    """The owner has seen the dialog up to `until` (the newest message shown; default: now)."""
    await session.execute(sa.text("""
        UPDATE dialogs SET owner_read_at = GREATEST(owner_read_at, coalesce(:until, now()))
        WHERE id = :dialog AND owner_id = :owner AND owner_read_at < coalesce(:until, now())
    """).bindparams(sa.bindparam("until", type_=sa.DateTime(timezone=True))),
        {"dialog": dialog_id, "owner": owner_id, "until": until})
    await session.commit()


async def unread_summary(session: AsyncSession, *, owner_id: uuid.UUID) -> UnreadSummary:
    """Unread user messages (up to UNREAD_CAP) and waiting dialogs: the sidebar badge, re-read on every
    live update. Reads only dialogs with activity since they were read (partial index ix_dialogs_owner_unread)."""
    row = (await session.execute(sa.text("""
        SELECT (SELECT count(*) FROM (
                    SELECT 1 FROM dialogs d JOIN messages m ON m.dialog_id = d.id AND m.created_at > d.owner_read_at
                    WHERE d.owner_id = :owner AND d.last_message_at > d.owner_read_at AND m.role = 'user'
                    LIMIT :cap) capped) AS unread,
               (SELECT count(*) FROM dialogs w WHERE w.owner_id = :owner AND w.status = 'waiting') AS waiting,
               lw.id AS latest_waiting_id, coalesce(lw.user_name, '') AS latest_waiting_name
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (SELECT id, user_name FROM dialogs l WHERE l.owner_id = :owner AND l.status = 'waiting'
                           ORDER BY l.handoff_at DESC NULLS LAST, l.last_message_at DESC LIMIT 1) lw ON true
    """), {"owner": owner_id, "cap": UNREAD_CAP})).one()
    return UnreadSummary(unread=int(row.unread), waiting=int(row.waiting), latest_waiting_id=row.latest_waiting_id,
                         latest_waiting_name=row.latest_waiting_name)


async def owner_of_email(session: AsyncSession, *, email: str) -> uuid.UUID | None:
    from chatai.services.accounts import normalize_email

    return (await session.execute(sa.text("SELECT id FROM users WHERE email = :e"),
                                  {"e": normalize_email(email)})).scalar_one_or_none()


async def owner_of_dialog(session: AsyncSession, *, dialog_id: uuid.UUID) -> uuid.UUID | None:
    """For operator tools (the CLI) that act as the platform, not as a signed-in owner."""
    return (await session.execute(sa.text("SELECT owner_id FROM dialogs WHERE id = :d"),
                                  {"d": dialog_id})).scalar_one_or_none()
