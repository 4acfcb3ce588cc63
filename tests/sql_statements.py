"""Counting what the app sends to the database: tests that assert how many statements (or which) a step
costs, on the real engine every session of the app shares."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chatai.db.session import get_async_engine


@contextlib.contextmanager
def counted_statements(engine: AsyncEngine | None = None) -> Iterator[list[str]]:
    """SQL statements sent to the database meanwhile through `engine` (by default the app's, which every
    session of the app shares; a runner has its own)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001 - SQLAlchemy's event signature
        seen.append(statement)

    sync_engine = (engine or get_async_engine()).sync_engine
    sa.event.listen(sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(sync_engine, "before_cursor_execute", note)
