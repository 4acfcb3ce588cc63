"""Shared bench plumbing: a throwaway database `bench_<name>` on the embedded PostgreSQL (never the app's
database) and Redis logical db 15, both started for the run when they are not running."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

import sqlalchemy as sa


@contextlib.contextmanager
def bench_database(name: str, *, migrate: bool = True, keep: bool = False) -> Iterator[str]:
    """Create bench_<name> (dropped afterwards unless keep), point settings at it, yield its URL."""
    from chatai.embedded import EmbeddedServers, postgres_url
    from chatai.settings import get_settings

    for var in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        os.environ.pop(var, None)  # benches measure the default, local setup
    get_settings.cache_clear()
    settings = get_settings()
    servers = EmbeddedServers(settings)
    servers.start()
    dbname = f"bench_{name}"
    admin = sa.create_engine(postgres_url(settings.pg_data_dir), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": dbname}).scalar()
        if exists and not keep:
            conn.execute(sa.text(f'DROP DATABASE "{dbname}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    from chatai.embedded import redis_url

    os.environ["DATABASE_URL"] = postgres_url(settings.pg_data_dir, dbname)
    os.environ["REDIS_URL"] = redis_url(settings.redis_socket) + "?db=15"
    get_settings.cache_clear()
    from chatai.cache import reset_redis
    from chatai.db.session import reset_engines

    reset_engines()
    reset_redis()
    try:
        if migrate:
            from chatai.db.migrate import upgrade

            upgrade()
        yield os.environ["DATABASE_URL"]
    finally:
        reset_engines()
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()
        servers.stop()


async def make_assistant(*, balance_rub: int = 10_000_000, **fields) -> uuid.UUID:
    """An owner with an assistant, and a balance large enough for any bench: answers are charged as in
    production (reserve, then commit), never refused for money."""
    from chatai.db.models import MICRO, Assistant, User
    from chatai.db.session import async_session
    from chatai.services import billing

    async with async_session() as s:
        user = User(email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password_hash="-")
        s.add(user)
        await s.flush()
        assistant = Assistant(owner_id=user.id, name="bench", **fields)
        s.add(assistant)
        await billing.open_account(s, user_id=user.id, welcome=False)
        await billing.credit(s, account_id=user.id, amount_micros=balance_rub * MICRO, kind="adjustment",
                             key=f"bench:{user.id}", reason="bench balance")
        await s.commit()
        return assistant.id


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
