"""The bot runner's own SQL on its cold paths: what changed in `bots`, bot records, poll marks, owed updates.

Why separate statements for "did anything change" and "what is it": the periodic reconcile used to
load every bot with its encrypted token every few seconds and compare them all in Python, on the event
loop that also answers messages. Now PostgreSQL folds the columns the runner acts on into one digest;
only when it differs from the last round are the bots compared (a slim row each), and only the bots
that need an action are loaded in full. All statements run on AUTOCOMMIT connections: one round trip
each, no BEGIN/COMMIT.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from chatai.services.dialogs import ASYNC_COMMIT

# Exactly the columns reconcile acts on (set of bots, desired state, status for retrying a failed bot,
# token); anything else in the row (last_poll_at, errors) may change without costing a comparison.
_DIGEST = sa.text("""
    SELECT coalesce(md5(string_agg(concat_ws(':', id, desired_state, status, token_encrypted), ',' ORDER BY id)), '')
    FROM bots
""")
_STATES = sa.text("SELECT id, desired_state, status, token_encrypted FROM bots")
_RECORDS = sa.text("""
    SELECT id, owner_id, assistant_id, token_encrypted, webhook_secret, desired_state, status, username
    FROM bots WHERE id = ANY(:ids)
""").bindparams(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
# Informational columns (dashboard, CLI): committed without waiting for the WAL flush, so a thousand
# rows every few seconds do not queue behind the hot path's commits (a crash loses only the latest marks).
_POLLED = sa.text(ASYNC_COMMIT + """
    UPDATE bots SET last_poll_at = :now, runner_id = :runner, lease_until = :until
    FROM async_commit WHERE id = ANY(:ids)
""").bindparams(sa.bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
# The partial index on status = 'received' holds only updates not answered yet (in flight, or owed
# after a crash): few, so those of all running bots are read and the runner keeps its own. Cheaper than
# sending the ids of a thousand bots as parameters; paused bots' updates wait for their resume.
_RECEIVED = sa.text("""
    SELECT t.bot_id, t.update_id FROM telegram_updates t JOIN bots b ON b.id = t.bot_id
    WHERE t.status = 'received' AND b.desired_state = 'running'
""")


async def digest(conn: AsyncConnection) -> str:
    """Changes whenever a bot is added or removed, or its desired state, status or token changes."""
    return str((await conn.execute(_DIGEST)).scalar_one())


async def states(conn: AsyncConnection) -> Sequence[Any]:
    """(id, desired_state, status, token_encrypted) of every bot."""
    return (await conn.execute(_STATES)).all()


async def records(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Full rows (what a worker needs) of these bots, by id; deleted bots are missing."""
    if not ids:
        return {}
    return {row.id: row for row in (await conn.execute(_RECORDS, {"ids": list(ids)})).all()}


async def mark_polled(conn: AsyncConnection, ids: Sequence[uuid.UUID], *, now: datetime, runner_id: str,
                      lease_until: datetime) -> None:
    await conn.execute(_POLLED, {"ids": list(ids), "now": now, "runner": runner_id, "until": lease_until})


async def received_updates(conn: AsyncConnection) -> dict[uuid.UUID, list[int]]:
    """Updates stored but not answered yet, by bot."""
    found: dict[uuid.UUID, list[int]] = {}
    for bot_id, update_id in (await conn.execute(_RECEIVED)).all():
        found.setdefault(bot_id, []).append(update_id)
    return found
