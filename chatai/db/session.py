"""Engines and sessions. The caller owns the session: functions in crud/ take it as an argument."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from chatai.embedded import postgres_url
from chatai.settings import get_settings

# The role the app connects as to the embedded server; the server's superuser `postgres` owns the schema.
EMBEDDED_APP_ROLE = "chatai_app"
# Connections a process opens as it starts (warm_pool): as many as a burst of webhook updates or answers
# needs at once right after a restart, well below the pools' sizes.
WARM_CONNECTIONS = 4

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    pass


class DatabaseMisconfigured(DatabaseUnavailable):
    """The database settings or roles contradict each other; the message says what to change."""


def _psycopg(url: str) -> str:
    # Accept the plain libpq form users paste; the driver is always psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _embedded_url(user: str) -> str:
    settings = get_settings()
    url = postgres_url(settings.pg_data_dir, user=user)
    if url is None:
        raise DatabaseUnavailable(
            f"The embedded PostgreSQL under {settings.pg_data_dir} is not running. "
            "Start the app with `make run`, or set DATABASE_URL."
        )
    return url


def database_url() -> str:
    """Where the app (web, bot runners, CLI commands) connects: as a role that owns nothing."""
    settings = get_settings()
    if settings.database_url:
        return _psycopg(settings.database_url)
    return _embedded_url(EMBEDDED_APP_ROLE)


def _place(url: str) -> tuple:
    parsed = make_url(url)
    return parsed.host, parsed.port or 5432, parsed.query.get("host"), parsed.database


def owner_database_url() -> str:
    """Where migrations, backups and restores connect: as the role that owns the schema."""
    settings = get_settings()
    if settings.database_owner_url:
        if not settings.database_url:
            raise DatabaseMisconfigured("DATABASE_OWNER_URL is set but DATABASE_URL is not: set both for an "
                                        "external database, or neither for the embedded one.")
        url = _psycopg(settings.database_owner_url)
        if _place(url) != _place(database_url()):
            raise DatabaseMisconfigured("DATABASE_OWNER_URL and DATABASE_URL name different databases: they must "
                                        "differ only in the user and password.")
        return url
    if settings.database_url:
        return database_url()  # one role does both
    return _embedded_url("postgres")


def app_role_name() -> str | None:
    """The app's own role, or None when the app connects as the owner (no DATABASE_OWNER_URL)."""
    app_user = make_url(database_url()).username
    return app_user if app_user != make_url(owner_database_url()).username else None


@lru_cache
def get_engine() -> Engine:
    return create_engine(database_url(), pool_pre_ping=True, pool_size=5, max_overflow=10)


@lru_cache
def get_owner_engine() -> Engine:
    """The owner's engine, for schema and role work only; no pool: it is used now and then."""
    return create_engine(owner_database_url(), poolclass=NullPool)


@lru_cache
def get_async_engine() -> AsyncEngine:
    return create_async_engine(database_url(), pool_pre_ping=True, pool_size=10, max_overflow=20)


async def warm_pool(engine: AsyncEngine, connections: int = WARM_CONNECTIONS) -> None:
    """Open `connections` of the engine's pool now, each with one round trip, and leave them in the pool.

    Why: a process that starts (or restarts) while messages arrive otherwise opens its connections in the
    first messages' path, concurrently and on a busy loop; at 100 updates/s the first ~40 updates waited
    50-250 ms for them (bench.bots_10k --stages), enough to be a percent of a half-minute's replies.
    A database that is down is reported by the first real use, not here."""
    async with AsyncExitStack() as opened:  # all held at once, so the pool keeps `connections`
        async def open_one() -> None:
            conn = await opened.enter_async_context(engine.connect())
            await conn.exec_driver_sql("SELECT 1")

        failed = [r for r in await asyncio.gather(*(open_one() for _ in range(connections)),
                                                  return_exceptions=True) if isinstance(r, Exception)]
    if failed:
        log.warning("could not open database connections ahead of use: %s", failed[0])


async def warm_app_pool() -> None:
    """The web app's lifespan task: the shared async engine's pool, warmed (see warm_pool)."""
    await warm_pool(get_async_engine())


@lru_cache
def _async_sessionmaker() -> async_sessionmaker[AsyncSession]:
    from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelAsyncSession

    return async_sessionmaker(get_async_engine(), class_=SQLModelAsyncSession, expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@asynccontextmanager
async def async_session() -> AsyncIterator[AsyncSession]:
    async with _async_sessionmaker()() as session:
        yield session


def reset_engines() -> None:
    """Forget cached engines (tests switch databases; settings changed). The synchronous ones are disposed (their
    pooled connections closed now, not when the collector gets to them); an async engine's connections belong
    to the event loop that opened them, which may be closed by now: those are left to the collector."""
    for cached in (get_engine, get_owner_engine):
        if cached.cache_info().currsize:
            cached().dispose()
    for cached in (get_engine, get_owner_engine, get_async_engine, _async_sessionmaker):
        cached.cache_clear()
