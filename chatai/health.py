"""System health: database, Redis and the bot runner. Each check is bounded by a timeout so a
hung dependency reports 'down' instead of hanging the health endpoint."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text

CHECK_TIMEOUT_SECONDS = 3.0


async def _database() -> dict[str, Any]:
    from chatai.db.session import async_session

    async with async_session() as session:
        await session.execute(text("SELECT 1"))
        revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    return {"status": "ok", "revision": revision}


async def _redis() -> dict[str, Any]:
    from chatai.cache import get_redis

    await get_redis().ping()
    return {"status": "ok"}


async def _bot_runner() -> dict[str, Any]:
    try:
        from chatai.bots.health import runner_health
    except ModuleNotFoundError:
        return {"status": "ok", "detail": "bot runner not installed"}
    return await runner_health()


async def _timed(check) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            result = await check()
    except TimeoutError:
        result = {"status": "down", "error": f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"}
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is "down", with its reason
        result = {"status": "down", "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def check_health() -> tuple[dict[str, Any], bool]:
    """Returns the report and whether every hard dependency is up. The bot runner being
    degraded (some bots in error) does not make the platform unhealthy; it being down does."""
    database, redis, runner = await asyncio.gather(_timed(_database), _timed(_redis), _timed(_bot_runner))
    components = {"database": database, "redis": redis, "bot_runner": runner}
    ok = all(part["status"] != "down" for part in components.values())
    return {"status": "ok" if ok else "down", "components": components}, ok


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: overall status and each component's name with ok / down (degraded counts as
    ok: the platform serves). No error texts, socket paths, revisions or figures."""
    return {"status": report["status"],
            "components": {name: "down" if part.get("status") == "down" else "ok"
                           for name, part in report["components"].items()}}
