"""Small helpers shared by CLI command modules."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn


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
