"""A process opens a few database connections as it starts (chatai/db/session.warm_pool), so the first
messages after a restart do not wait for them."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import create_async_engine

from chatai.db.session import database_url, warm_pool


async def test_the_pool_holds_the_warmed_connections_idle(db):
    engine = create_async_engine(database_url(), pool_size=6, max_overflow=0)
    try:
        assert engine.pool.checkedin() == 0
        await warm_pool(engine, 4)
        assert engine.pool.checkedin() == 4 and engine.pool.checkedout() == 0  # opened, and given back
        async with engine.connect() as conn:  # the next use takes one of them, opening none
            await conn.exec_driver_sql("SELECT 1")
            assert engine.pool.checkedin() == 3
    finally:
        await engine.dispose()


async def test_a_database_that_cannot_be_reached_is_a_warning_not_a_failure(caplog):
    engine = create_async_engine("postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/none", pool_size=2)
    try:
        with caplog.at_level(logging.WARNING, logger="chatai.db.session"):
            await warm_pool(engine, 2)
        assert "could not open database connections ahead of use" in caplog.text
        assert "secret-pw" not in caplog.text
    finally:
        await engine.dispose()
