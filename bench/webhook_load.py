"""The webhook load of bench.bots_10k: updates POSTed to random bots' webhook routes at a steady rate as
Telegram would (secret header, one update a request), and the reply overhead of each (POST sent ->
sendMessage received at the fake Bot API, one monotonic clock)."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from bench.common import percentile

IN_FLIGHT = 40  # webhook POSTs at once (Telegram's default max_connections per bot is 40 too)
RESPONSE_MS: list[float] = []  # how long the web worker took to answer each POST (200 once stored)


def _ctl(url: str, action: str, body: dict[str, Any] | None = None) -> Any:
    return httpx.post(f"{url}/_ctl/{action}", json=body or {}, timeout=300).json()


async def post_load(web_url: str, bots: list[tuple[Any, str, str]], rate: float, seconds: float, *, first: int = 0
                     ) -> tuple[dict[int, float], int]:
    """POST `rate` updates a second for `seconds` to random bots' webhooks: {chat id: when posted}, refusals.
    Chat and update ids start at `first` (each part of the run its own: a repeated update id is a re-delivery)."""
    from bench.bots_10k_parts import WEBHOOK_CHATS
    from tests.fakes.telegram_updates import text_update

    rng = random.Random(24)  # noqa: S311 - not security
    posted: dict[int, float] = {}
    refused = 0
    # Requests in flight are capped below the pool size: httpcore's pool scans its queue on every event, so
    # thousands queued in it (a slow moment of the server) cost this process more CPU than the requests.
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    RESPONSE_MS.clear()
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=web_url, limits=limits, timeout=60) as client:
        async def post(n: int) -> None:
            nonlocal refused
            bot_id, _, secret = rng.choice(bots)
            chat = WEBHOOK_CHATS + first + n
            update = text_update(f"question {n}", chat_id=chat, update_id=1_000_000 + first + n)
            async with in_flight:
                posted[chat] = time.monotonic()  # sent now (Telegram's clock), not when it was due
                response = await client.post(f"/telegram/webhook/{bot_id}", json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": secret})
                RESPONSE_MS.append((time.monotonic() - posted[chat]) * 1000)
            if response.status_code != 200:
                refused += 1

        tasks = []
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(n)))
        await asyncio.gather(*tasks)
    return posted, refused


def overheads_of(fake_url: str, posted: dict[int, float]) -> tuple[list[float], int, int]:
    """(overheads in ms of answered updates, answered, answered more than once)."""
    sends = {int(chat): times for chat, times in _ctl(fake_url, "sends").items()}
    overheads = [(min(sends[c]) - t) * 1000 for c, t in posted.items() if c in sends]
    return overheads, sum(1 for c in posted if c in sends), sum(1 for c in posted if len(sends.get(c, [])) > 1)


def pcts(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
            f"p99 {percentile(values, 99):.1f} ms, max {max(values):.1f} ms")
