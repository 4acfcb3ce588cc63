"""What a channel supplies to the pipeline, and what the pipeline tells it back.

A channel is one way customers reach an assistant: "telegram" (a bot), "business" (the owner's own Telegram
account), "web" (the website widget) and "playground" (the owner trying the assistant in the dashboard). It
knows how to put a reply in front of the customer and what counts as delivered there (Telegram accepted
sendMessage; the widget's stream took the last event; the playground stored it); the pipeline decides what
the reply is, whether it is charged, and whether the AI may speak at all.

Streaming is optional: a channel with a `stream` shows text while it is generated (Telegram drafts, the
widget's SSE, the playground's bubble). Streamed text is never a delivered answer: `deliver` still sends
the final reply, and only it is charged.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from chatai.services.dialogs import Pending, SavedReply

CHANNELS = ("telegram", "web", "playground", "business")
AnswerFn = Callable[..., Awaitable[Any]]
Publish = Callable[..., Any]  # (dialog_id=, owner_id=, role=) -> None or an awaitable: the live event


class AssistantFacts(Protocol):
    """What the pipeline reads of the assistant before generating (the runner caches it for all its bots)."""

    name: str
    greeting: str
    enabled: bool


class Stream(Protocol):
    """Partial text while the answer is generated. `push` gets the whole text so far (a channel that draws
    a draft replaces it; one that appends keeps its own offset), at most every `interval` seconds (the
    channel's own limit). `finish` is called once, whatever happened, before the final reply is delivered
    or dropped."""

    interval: float

    async def start(self) -> None: ...

    async def push(self, text: str) -> None: ...

    async def finish(self) -> None: ...


@dataclass(frozen=True)
class Receipt:
    """A reply the channel delivered: its id there (Telegram's message id; None where there is none)."""

    external_id: int | None = None


class Channel(Protocol):
    name: str  # one of CHANNELS: stored on the dialog
    billable: bool  # False: never reserved nor charged (the owner's playground)

    def charge_key(self, turn: Pending) -> str:
        """The idempotency key of this message's charge: a re-delivered message reuses its reservation."""
        ...

    def language(self, turn: Pending) -> str:
        """'en' | 'ru': the customer's language for the pipeline's own texts."""
        ...

    def typing(self, turn: Pending) -> AbstractAsyncContextManager[None]:
        """Shown while a whole (not streamed) answer is generated."""
        ...

    def stream(self, turn: Pending) -> Stream | None:
        """Partial text as it is generated, or None (not available for this customer or chat)."""
        ...

    async def deliver(self, turn: Pending, reply: SavedReply, language: str) -> Receipt | None:
        """Put the final reply in front of the customer; None: undeliverable for good (blocked, gone)."""
        ...

    async def delivered(self, turn: Pending, reply: SavedReply, receipt: Receipt, latency_ms: int) -> None:
        """Record the message answered (exactly once from here on)."""
        ...

    async def dropped(self, turn: Pending) -> None:
        """The message will never be answered (taken over meanwhile, undeliverable)."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What became of one message: answered (with what), muted (a person handles the dialog), dropped."""

    status: str  # "answered" | "muted" | "taken_over" | "undeliverable"
    answered_by: str = ""
    text: str = ""
    reply_id: uuid.UUID | None = None
