"""Small helpers shared by CLI command modules, and what `python -m chatai` does around every command:
bring the schema up to date (or say how), and turn an expected failure into one line."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Coroutine
from typing import Any, NoReturn

UPGRADE_HINT = "run `python -m chatai db upgrade`"


def fail(message: str) -> NoReturn:
    from chatai.cli import CommandError

    raise CommandError(message)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    async def wrapper() -> Any:
        from chatai.db.session import get_async_engine

        try:
            return await coro
        finally:
            await get_async_engine().dispose()

    return asyncio.run(wrapper())


def _schema_revisions(*, as_owner: bool = False) -> tuple[set[str], set[str]]:
    """(what the database is at, what this code expects). The embedded install's app role may not exist yet
    (an install from before the roles were split): it is read as the owner there."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from chatai.db.session import get_engine, get_owner_engine
    from chatai.settings import PROJECT_ROOT

    heads = set(ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))).get_heads())
    engine = get_owner_engine() if as_owner else get_engine()
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    return current, heads


def ensure_schema() -> None:
    """Commands need the tables of this version. The embedded database is this install's own, so its
    pending migrations are applied here, as `make run` does; an external database is someone's
    production: say what to run instead of migrating it as a side effect of a command. The embedded install
    also gets its app role and grants here when they are missing (the app connects as that role)."""
    from chatai.settings import get_settings

    embedded = get_settings().embedded_database
    current, heads = _schema_revisions(as_owner=embedded)
    if current == heads:
        if embedded:
            from chatai.db.roles import secure_app_role

            secure_app_role(only_when_missing=True)
        return
    if embedded:
        from chatai.db.migrate import upgrade

        print("Applying database migrations...", file=sys.stderr, flush=True)
        upgrade()
        return
    state = "has no ChatAI tables yet" if not current else "is not up to date with this version"
    fail(f"The database at DATABASE_URL {state}: {UPGRADE_HINT} first.")


def _first_line(value: object) -> str:
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return lines[0] if lines else type(value).__name__


def explain_failure(exc: BaseException) -> str | None:
    """One line for a failure of the surroundings (database down, schema missing, a file that is not
    there), which a traceback would only bury. None for anything else: a bug deserves its traceback."""
    import redis.exceptions
    import sqlalchemy.exc

    from chatai.db.session import DatabaseUnavailable

    if isinstance(exc, DatabaseUnavailable):
        return str(exc)
    if isinstance(exc, sqlalchemy.exc.ProgrammingError) and "does not exist" in str(exc.orig):
        return f"The database is missing tables this version needs ({_first_line(exc.orig)}): {UPGRADE_HINT}."
    if isinstance(exc, sqlalchemy.exc.ProgrammingError) and "permission denied" in str(exc.orig):
        return (f"The app's database role may not do this ({_first_line(exc.orig)}): {UPGRADE_HINT} with "
                "DATABASE_OWNER_URL set, so that the schema's owner grants it (README \"Database roles\").")
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        return f"Cannot reach the database: {_first_line(exc.orig)}"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return f"Cannot reach Redis: {_first_line(exc)}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or _first_line(exc)}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"A connection failed: {_first_line(exc)}"
    return None


def assistant_id_arg(value: str) -> uuid.UUID:
    """An assistant id given on the command line, or a sentence saying it is not one."""
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"not an assistant id: {value}")


async def owner_of_assistant(session: Any, assistant_id: uuid.UUID) -> uuid.UUID:
    """The owner of an assistant (the CLI acts as that owner), or a sentence saying there is no such assistant."""
    from chatai.db.models import Assistant

    assistant = await session.get(Assistant, assistant_id)
    if assistant is None:
        fail(f"no assistant with id {assistant_id}")
    return assistant.owner_id
