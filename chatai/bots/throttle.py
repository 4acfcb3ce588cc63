"""Telegram's send limits, per bot and per chat, in memory of the runner that owns the bot.

Why per chat as well as per bot: Telegram allows about 1 message/s to one chat (short bursts
are tolerated) and about 30/s per bot. One bucket per chat means a chat receiving a 5-part answer
(or a 429 with retry_after) waits on its own, while other chats of the same bot keep flowing.
Only the runner that owns a bot sends for it, so process memory is the right place (no Redis hop
on the hot path).

The bot's limit is a sliding window (at most `per_bot` calls in any `bot_window` seconds), not a bucket:
a full bucket let a burst of 30 and then 30 more in the same second through. The window is a little longer
than a second because Telegram counts calls where they arrive, after the network's jitter.

Drafts (sendMessageDraft, an answer as it is written) count as calls of the bot and of the chat like
messages do, but are worth less: a draft goes only while it leaves room for a message (DRAFT_CHAT_RESERVE
tokens of the chat, DRAFT_BOT_RESERVE calls of the bot's window), so a bot streaming many chats never
delays the final answers with its drafts, and stays within Telegram's limits with both.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta


def retry_after_seconds(value: float | timedelta) -> float:
    """Telegram's retry_after (a 429), an int or a timedelta depending on the library's settings, in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


DRAFT_CHAT_RESERVE = 1  # of a chat's tokens, left for the answer's message
DRAFT_BOT_RESERVE = 0.2  # share of the bot's window left for messages


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

    def delay(self, now: float, reserve: float = 0.0) -> float:
        """Seconds to wait before one token is available beyond `reserve` (does not take it)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        wait = max(0.0, self.blocked_until - now)
        if self.tokens < 1 + reserve:
            wait = max(wait, (1 + reserve - self.tokens) / self.rate)
        return wait

    def take(self) -> None:
        self.tokens -= 1


class SlidingWindow:
    """At most `limit` calls in any `window` seconds (the times of the calls in the last window are kept)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._times: deque[float] = deque()

    def delay(self, now: float, reserve: int = 0) -> float:
        """Seconds until a call fits while `reserve` places stay free (does not take one)."""
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        allowed = max(1, self.limit - reserve)
        if len(self._times) < allowed:
            return 0.0
        return self._times[len(self._times) - allowed] + self.window - now

    def take(self, now: float) -> None:
        self._times.append(now)


class Throttle:
    """Call `await wait(chat_id)` before each message (`draft=True` before a draft); `block(chat_id,
    seconds)` on a 429."""

    def __init__(self, *, per_bot: int = 30, bot_window: float = 1.1, per_chat: float = 1.0,
                 chat_burst: float = 3.0, idle_forget: float = 60.0) -> None:
        self.per_bot = per_bot
        self._bot = SlidingWindow(per_bot, bot_window)
        self._draft_bot_reserve = max(1, round(per_bot * DRAFT_BOT_RESERVE))
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

    async def wait(self, chat_id: int, *, draft: bool = False) -> None:
        chat = self._chat(chat_id)
        chat_reserve, bot_reserve = (DRAFT_CHAT_RESERVE, self._draft_bot_reserve) if draft else (0, 0)
        while True:  # the chat first, so a slow chat never holds a bot-wide place while it waits
            delay = chat.delay(time.monotonic(), chat_reserve)
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        while True:
            delay = self._bot.delay(time.monotonic(), bot_reserve)
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        chat.take()
        self._bot.take(time.monotonic())  # no await since the check: the window is never overrun
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
