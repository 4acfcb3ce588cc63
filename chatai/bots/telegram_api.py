"""The two Bot API calls every message costs, without building python-telegram-bot objects.

Why: `Bot.get_updates` turns each update into Update/Message/User/Chat objects and `send_message`
parses the returned Message the same way; the runner reads five fields of the first and one of the
second. At a hundred messages a second that object churn was a visible share of the runner's CPU.
Everything else still goes through PTB: the request layer (shared pools, timeouts), the error
mapping (RetryAfter, Forbidden, InvalidToken, Conflict...), getMe, webhooks, chat actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import Bot


class LeanBot(Bot):
    async def get_updates_raw(self, *, offset: int | None, timeout: int,  # noqa: ASYNC109 - Bot API long poll
                              allowed_updates: Sequence[str], read_timeout: float) -> list[dict[str, Any]]:
        """getUpdates as plain dicts. The read timeout covers the long poll itself plus `read_timeout`,
        as in Bot.get_updates."""
        return await self._post("getUpdates", {"offset": offset, "timeout": timeout,
                                               "allowed_updates": list(allowed_updates)},
                                read_timeout=read_timeout + timeout)

    async def send_message_raw(self, **params: Any) -> dict[str, Any]:
        """sendMessage; returns the sent message as a dict (None parameters are dropped)."""
        return await self._post("sendMessage", params)
