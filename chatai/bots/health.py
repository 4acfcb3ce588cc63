"""Runner health for /health and the admin panel, readable from any process.

Live runners and their counters come from the Redis heartbeat hashes (they expire with the lease
TTL, so a dead runner disappears by itself); error counts and what should be running come from
the database.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from chatai.bots.ownership import RUNNER_STATS_PREFIX, RUNNERS_KEY
from chatai.cache import get_redis
from chatai.db.models import Bot
from chatai.db.session import async_session


async def runner_health() -> dict[str, Any]:
    """{"status": ok|degraded|down, "bots_running", "bots_error", "last_poll", "runners", "bots_wanted"}"""
    redis = get_redis()
    now_ms = int(time.time() * 1000)
    candidates = await redis.zrangebyscore(RUNNERS_KEY, now_ms - 120_000, "+inf")
    running = 0
    last_poll: str | None = None
    runners = 0
    for runner_id in candidates:
        stats = await redis.hgetall(RUNNER_STATS_PREFIX + runner_id)
        if not stats:
            continue  # expired: that runner is gone
        runners += 1
        running += int(stats.get("bots_running") or 0)
        poll = stats.get("last_poll") or None
        if poll and (last_poll is None or poll > last_poll):
            last_poll = poll
    async with async_session() as session:
        rows = (await session.execute(
            sa.select(Bot.status, sa.func.count()).where(Bot.desired_state == "running").group_by(Bot.status)
        )).all()
    counts = {status: n for status, n in rows}
    wanted = sum(counts.values())
    errors = counts.get("error", 0)
    if wanted and not runners:
        status = "down"
    elif errors or running < wanted:
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "bots_running": running, "bots_error": errors, "last_poll": last_poll,
            "runners": runners, "bots_wanted": wanted}
