"""Admin system page: the ingestion queue, disk use of the data folder and the last errors of the platform
(failed ingests, bots in error, failed sends), beside chatai.health.check_health (database, Redis, runners).

Every function takes the acting admin and refuses anyone else; the caller owns the session. Error texts are
the platform's own sentences (documents.error, bots.last_error, messages.delivery_error), cut short; the
page renders them as text.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Document
from chatai.services.accounts import CurrentUser

ERRORS_LIMIT = 20
ERROR_TEXT_LIMIT = 300
DISK_CACHE_SECONDS = 30.0  # walking the data folder (PostgreSQL's files) is not free; the page polls every few s


def _check(admin: CurrentUser) -> None:
    if not admin.is_admin:
        raise PermissionError("admin only")


@dataclass(frozen=True)
class IngestQueue:
    waiting: int
    processing: int
    failed: int


async def ingest_queue(session: AsyncSession, *, admin: CurrentUser) -> IngestQueue:
    _check(admin)
    rows = (await session.execute(
        sa.select(Document.status, sa.func.count()).where(Document.status.in_(("queued", "processing", "error")))
        .group_by(Document.status))).all()
    counts = dict(rows)
    return IngestQueue(counts.get("queued", 0), counts.get("processing", 0), counts.get("error", 0))


@dataclass(frozen=True)
class DiskUse:
    data_bytes: int  # everything under the data folder
    free_bytes: int  # left on the file system that holds it
    total_bytes: int


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder, onerror=lambda _err: None):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # a file removed while walking (PostgreSQL's temp files)
    return total


_disk_cache: dict[Path, tuple[float, DiskUse]] = {}


def _measure_disk(folder: Path) -> DiskUse:
    usage = shutil.disk_usage(folder if folder.exists() else folder.parent)
    return DiskUse(_folder_bytes(folder), usage.free, usage.total)


async def disk_use(*, admin: CurrentUser, folder: Path) -> DiskUse:
    """Measured off the event loop, and at most every DISK_CACHE_SECONDS per process."""
    _check(admin)
    cached = _disk_cache.get(folder)
    if cached and time.monotonic() - cached[0] < DISK_CACHE_SECONDS:
        return cached[1]
    measured = await asyncio.to_thread(_measure_disk, folder)
    _disk_cache[folder] = (time.monotonic(), measured)
    return measured


@dataclass(frozen=True)
class ErrorEntry:
    at: datetime
    kind: str  # ingest | bot | send | update
    subject: str  # the document's file name or the bot's @username
    detail: str  # the platform's error sentence ('' for a failed update: the bot's events tell why)


_ERRORS_SQL = """
(SELECT d.updated_at AS at, 'ingest' AS kind, d.filename AS subject, d.error AS detail
   FROM documents d WHERE d.status = 'error' ORDER BY d.updated_at DESC LIMIT :limit)
UNION ALL
(SELECT coalesce(b.last_error_at, b.updated_at), 'bot', b.username, b.last_error
   FROM bots b WHERE b.status = 'error' ORDER BY coalesce(b.last_error_at, b.updated_at) DESC LIMIT :limit)
UNION ALL
(SELECT m.created_at, 'send', coalesce(b.username, ''), m.delivery_error
   FROM messages m JOIN dialogs g ON g.id = m.dialog_id LEFT JOIN bots b ON b.id = g.bot_id
   WHERE m.delivery_status = 'failed' ORDER BY m.created_at DESC LIMIT :limit)
UNION ALL
(SELECT u.received_at, 'update', b.username, ''
   FROM telegram_updates u JOIN bots b ON b.id = u.bot_id
   WHERE u.status = 'failed' ORDER BY u.received_at DESC LIMIT :limit)
ORDER BY at DESC LIMIT :limit
"""


async def last_errors(session: AsyncSession, *, admin: CurrentUser, limit: int = ERRORS_LIMIT) -> list[ErrorEntry]:
    """The newest errors of every kind, newest first."""
    _check(admin)
    rows = (await session.execute(sa.text(_ERRORS_SQL), {"limit": max(1, min(limit, 200))})).all()
    return [ErrorEntry(at, kind, subject or "", (detail or "")[:ERROR_TEXT_LIMIT]) for at, kind, subject, detail
            in rows]
