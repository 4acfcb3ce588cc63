"""Telegram's send limits, per bot and per chat, in memory of the runner that owns the bot.

Why per chat as well as per bot: Telegram allows about 1 message/s to one chat (short bursts
are tolerated) and about 30/s per bot. One bucket per chat means a chat receiving a 5-part answer
(or a 429 with retry_after) waits on its own, while other chats of the same bot keep flowing.
Only the runner that owns a bot sends for it, so process memory is the right place (no Redis hop
on the hot path).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)
    blocked_until: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def delay(self, now: float) -> float:
        """Seconds to wait before one token is available (does not take it)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        wait = max(0.0, self.blocked_until - now)
        if self.tokens < 1:
            wait = max(wait, (1 - self.tokens) / self.rate)
        return wait

    def take(self) -> None:
        self.tokens -= 1


class Throttle:
    """Call `await wait(chat_id)` before each message; `block(chat_id, seconds)` on a 429."""

    def __init__(self, *, per_bot: float = 30.0, bot_burst: float = 30.0, per_chat: float = 1.0,
                 chat_burst: float = 3.0, idle_forget: float = 60.0) -> None:
        self._bot = TokenBucket(per_bot, bot_burst)
        self._per_chat = per_chat
        self._chat_burst = chat_burst
        self._chats: dict[int, TokenBucket] = {}
        self._idle_forget = idle_forget
        self._last_sweep = time.monotonic()

    def _chat(self, chat_id: int) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._chats[chat_id] = TokenBucket(self._per_chat, self._chat_burst)
        return bucket

    async def wait(self, chat_id: int) -> None:
        chat = self._chat(chat_id)
        while True:  # the chat first, so a slow chat never holds a bot-wide token while it waits
            delay = chat.delay(time.monotonic())
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        while True:
            delay = self._bot.delay(time.monotonic())
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        chat.take()
        self._bot.take()
        self._sweep()

    def block(self, chat_id: int, seconds: float) -> None:
        """Telegram said retry_after for this chat: nothing goes to it before then."""
        chat = self._chat(chat_id)
        chat.blocked_until = max(chat.blocked_until, time.monotonic() + seconds)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < self._idle_forget:
            return
        self._last_sweep = now
        for chat_id, bucket in list(self._chats.items()):
            if now - bucket.updated > self._idle_forget and bucket.blocked_until < now:
                del self._chats[chat_id]
