"""Engines and sessions. The caller owns the session: functions in crud/ take it as an argument."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import Session

from chatai.embedded import postgres_url
from chatai.settings import get_settings


class DatabaseUnavailable(RuntimeError):
    pass


def database_url() -> str:
    settings = get_settings()
    if settings.database_url:
        url = settings.database_url
        # Accept the plain libpq form users paste; the driver is always psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                url = "postgresql+psycopg://" + url[len(prefix):]
        return url
    url = postgres_url(settings.pg_data_dir)
    if url is None:
        raise DatabaseUnavailable(
            f"The embedded PostgreSQL under {settings.pg_data_dir} is not running. "
            "Start the app with `make run`, or set DATABASE_URL."
        )
    return url


@lru_cache
def get_engine() -> Engine:
    return create_engine(database_url(), pool_pre_ping=True, pool_size=5, max_overflow=10)


@lru_cache
def get_async_engine() -> AsyncEngine:
    return create_async_engine(database_url(), pool_pre_ping=True, pool_size=10, max_overflow=20)


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
    """Forget cached engines (tests switch databases; settings changed)."""
    for cached in (get_engine, get_async_engine, _async_sessionmaker):
        cached.cache_clear()
