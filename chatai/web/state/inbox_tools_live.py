"""Pushes the inbox tools' nudges (chatai/inbox_tools/presence.py) into the tabs of this web worker that
have the dialog open: who is typing, a new note, changed labels, a customer note.

One subscriber per web worker (a lifespan task), one registry of which tab watches which dialog, so an
event costs one push per watching tab and nothing for the others; each push re-checks that tab's session
and business before it shows anything. "Typing" fades by itself: one timer per dialog (not per tab)
re-pushes when the last typist's TYPING_SHOWN_SECONDS have passed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import reflex as rx

from chatai.inbox_tools.presence import ToolsEvent, TypingBoard, run_tools_subscriber

log = logging.getLogger(__name__)

PRUNE_SECONDS = 30.0


class DialogWatchers:
    """Client token -> the dialog its inbox shows (this process only)."""

    def __init__(self) -> None:
        self._dialog_of: dict[str, uuid.UUID] = {}

    def watch(self, token: str, dialog_id: uuid.UUID) -> None:
        if token:
            self._dialog_of[token] = dialog_id

    def unwatch(self, token: str) -> None:
        self._dialog_of.pop(token, None)

    def prune(self, connected) -> int:
        """Forget tabs whose websocket is gone (a closed tab sends no "leave"); returns how many."""
        gone = [t for t in self._dialog_of if not connected(t)]
        for token in gone:
            del self._dialog_of[token]
        return len(gone)

    def tokens_of(self, dialog_id: uuid.UUID) -> list[str]:
        return [t for t, d in self._dialog_of.items() if d == dialog_id]

    def __len__(self) -> int:
        return len(self._dialog_of)


WATCHERS = DialogWatchers()
BOARD = TypingBoard()
_fade_timers: dict[uuid.UUID, asyncio.Task] = {}


def _connected(token: str) -> bool:
    from chatai.chatai import app

    namespace = app.event_namespace
    return namespace is not None and token in namespace.token_to_sid


async def push_to_tab(token: str, event: ToolsEvent) -> None:
    from chatai.chatai import app
    from chatai.web.state.inbox_tools import InboxToolsState

    async with app.modify_state(rx.BaseStateToken(ident=token, cls=InboxToolsState)) as root:
        tools = await root.get_state(InboxToolsState)
        if not await tools.apply_live(event, BOARD):
            WATCHERS.unwatch(token)


async def push_to_watchers(event: ToolsEvent) -> int:
    """Push to every tab of this worker watching the event's dialog; returns how many were pushed."""
    tokens = []
    for token in WATCHERS.tokens_of(event.dialog_id):
        if _connected(token):
            tokens.append(token)
        else:
            WATCHERS.unwatch(token)
    for result in await asyncio.gather(*(push_to_tab(t, event) for t in tokens), return_exceptions=True):
        if isinstance(result, Exception):
            log.warning("inbox tools push failed: %r", result)
    return len(tokens)


async def _fade(event: ToolsEvent) -> None:
    while (left := BOARD.seconds_left(event.dialog_id)) is not None:
        await asyncio.sleep(left + 0.05)
        if BOARD.seconds_left(event.dialog_id) in (None, 0.0):
            BOARD.typing(event.dialog_id)  # drops the expired names
            await push_to_watchers(event)
    _fade_timers.pop(event.dialog_id, None)


async def handle_tools_event(event: ToolsEvent) -> None:
    if event.type == "typing":
        BOARD.saw(event)
        if event.dialog_id not in _fade_timers:
            _fade_timers[event.dialog_id] = asyncio.create_task(_fade(event))
    await push_to_watchers(event)


async def _prune_forever() -> None:
    while True:
        await asyncio.sleep(PRUNE_SECONDS)
        WATCHERS.prune(_connected)


async def run_inbox_tools_live() -> None:
    """Lifespan task of each web worker."""
    pruner = asyncio.create_task(_prune_forever())
    try:
        await run_tools_subscriber(handle_tools_event)
    finally:
        pruner.cancel()
        for timer in _fade_timers.values():
            timer.cancel()
        _fade_timers.clear()
