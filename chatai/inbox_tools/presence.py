"""Who is typing a reply in a dialog, and nudges that a dialog's notes or labels changed, across processes.

Cost: one Redis publish per dialog event, whatever the number of tabs (each web worker runs ONE subscriber
and pushes only to its own tabs that have that dialog open: chatai/web/state/inbox_tools_live.py). Typing
is throttled at the source: a person's keystrokes in one dialog publish at most once per TYPING_THROTTLE_MS
(a Redis SET NX PX), and a viewer shows "typing" for TYPING_SHOWN_SECONDS after the last one.
Who holds a dialog is the database's (dialogs.operator_id), refreshed by the inbox's own dialog events.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

TOOLS_EVENTS_CHANNEL = "chatai:inbox_tools"  # {"type": typing|note|labels|customer, dialog_id, owner_id, ...}
TYPING_THROTTLE_MS = 2500
TYPING_SHOWN_SECONDS = 6.0  # > the throttle, so steady typing shows without a gap
EVENT_TYPES = ("typing", "note", "labels", "customer")


@dataclass(frozen=True)
class ToolsEvent:
    type: str
    dialog_id: uuid.UUID
    owner_id: uuid.UUID
    user_id: str = ""
    who: str = ""


def parse_tools_event(raw: str | bytes) -> ToolsEvent | None:
    """A published nudge, or None for anything malformed (never trusted beyond its ids: views re-read)."""
    try:
        data = json.loads(raw)
        kind = str(data.get("type") or "")
        if kind not in EVENT_TYPES:
            return None
        return ToolsEvent(type=kind, dialog_id=uuid.UUID(str(data["dialog_id"])),
                          owner_id=uuid.UUID(str(data["owner_id"])), user_id=str(data.get("user_id") or "")[:64],
                          who=str(data.get("who") or "")[:255])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _redis(redis: Any | None) -> Any:
    if redis is not None:
        return redis
    from chatai.cache import get_redis

    return get_redis()


async def publish_tools_event(kind: str, *, dialog_id: uuid.UUID, owner_id: uuid.UUID, redis: Any | None = None,
                              **extra: str) -> None:
    """Best effort: a missed nudge only delays a view (the database stays the truth)."""
    try:
        await _redis(redis).publish(TOOLS_EVENTS_CHANNEL, json.dumps(
            {"type": kind, "dialog_id": str(dialog_id), "owner_id": str(owner_id), **extra}))
    except Exception:  # noqa: BLE001
        log.debug("inbox tools event not published", exc_info=True)


async def publish_typing(*, dialog_id: uuid.UUID, owner_id: uuid.UUID, user_id: uuid.UUID, who: str,
                         redis: Any | None = None) -> bool:
    """Announce that `who` is typing a reply; False (nothing published) within the throttle window."""
    client = _redis(redis)
    try:
        first = await client.set(f"chatai:typing:{dialog_id}:{user_id}", "1", nx=True, px=TYPING_THROTTLE_MS)
    except Exception:  # noqa: BLE001 - Redis down: nobody sees typing, nothing else breaks
        log.debug("typing not published", exc_info=True)
        return False
    if not first:
        return False
    await publish_tools_event("typing", dialog_id=dialog_id, owner_id=owner_id, user_id=str(user_id), who=who,
                              redis=client)
    return True


class TypingBoard:
    """Who typed in which dialog, until when (per process; fed by the subscriber)."""

    def __init__(self, shown_seconds: float = TYPING_SHOWN_SECONDS) -> None:
        self.shown_seconds = shown_seconds
        self._typing: dict[uuid.UUID, dict[str, tuple[str, float]]] = {}

    def saw(self, event: ToolsEvent, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._typing.setdefault(event.dialog_id, {})[event.user_id] = (event.who, now + self.shown_seconds)

    def typing(self, dialog_id: uuid.UUID, *, now: float | None = None, but_user: str = "") -> list[str]:
        """Names typing in the dialog now, except `but_user` (a person never sees themselves typing)."""
        now = time.monotonic() if now is None else now
        people = self._typing.get(dialog_id, {})
        for user_id in [u for u, (_, until) in people.items() if until <= now]:
            del people[user_id]
        if not people:
            self._typing.pop(dialog_id, None)
        return sorted(who for user_id, (who, _) in people.items() if user_id != but_user)

    def seconds_left(self, dialog_id: uuid.UUID, now: float | None = None) -> float | None:
        """Until the last shown name of the dialog expires (when to re-push), or None."""
        now = time.monotonic() if now is None else now
        people = self._typing.get(dialog_id)
        return max(0.0, max(until for _, until in people.values()) - now) if people else None


async def run_tools_subscriber(handle: Callable[[ToolsEvent], Awaitable[Any]], *,
                               redis_factory: Callable[[], Any] | None = None) -> None:
    """Forever: subscribe to the tools channel and hand each event to `handle`; reconnects after failures
    (the web worker's one subscription loop, services/live.py)."""
    from chatai.services.live import subscribe_forever

    async def next_event(pubsub: Any) -> ToolsEvent | None:
        message = await pubsub.get_message(timeout=30.0)
        return parse_tools_event(message.get("data", "")) if message else None

    await subscribe_forever(TOOLS_EVENTS_CHANNEL, next_event, handle, what="inbox tools push",
                            redis_factory=redis_factory)
