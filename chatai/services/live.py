"""Live dialog events across processes: the Redis subscriber and the per-process registry of the
browser tabs that want them. No Reflex here (the push into tab states is chatai/web/live.py).

Why Redis pub/sub: the bot runner may be another process (or machine) than the web worker holding
a tab's websocket. Every writer publishes a small JSON nudge on `chatai:dialogs` after its commit
(services/dialogs.publish_dialog_event, the runner's write-behind); each web worker runs ONE
subscriber and refreshes only the tabs registered with it, and only those of the event's owner.
A missed nudge (Redis restarting) only delays a view: the database stays the truth.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

log = logging.getLogger(__name__)

MAX_MERGED_ROWS = 200  # changed rows a waiting change may carry; beyond, the tab re-reads its list
COALESCE_SECONDS = 0.05  # events arriving together are handled together (a reply follows its question)
RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class DialogEvent:
    type: str  # message | status
    dialog_id: uuid.UUID
    owner_id: uuid.UUID
    role: str = ""
    status: str = ""


def parse_event(raw: str | bytes) -> DialogEvent | None:
    """A published nudge, or None for anything malformed (never trusted beyond its ids)."""
    try:
        data = json.loads(raw)
        return DialogEvent(type=str(data.get("type") or "message"), dialog_id=uuid.UUID(str(data["dialog_id"])),
                           owner_id=uuid.UUID(str(data["owner_id"])), role=str(data.get("role") or ""),
                           status=str(data.get("status") or ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass
class Registration:
    owner_id: uuid.UUID
    since: float
    session_hash: str = ""  # of the sign-in session the tab registered with (checked in bulk per batch)


class LiveRegistry:
    """Client token -> owner, for this process only (each worker holds its own sockets). Which page a
    tab shows is read from its state when pushing, so navigating needs no bookkeeping here."""

    def __init__(self) -> None:
        self._clients: dict[str, Registration] = {}

    def register(self, token: str, *, owner_id: uuid.UUID, session_hash: str = "") -> None:
        if token:
            self._clients[token] = Registration(owner_id, time.monotonic(), session_hash)

    def unregister(self, token: str) -> None:
        self._clients.pop(token, None)

    def get(self, token: str) -> Registration | None:
        return self._clients.get(token)

    def clients_of(self, owner_id: uuid.UUID) -> list[tuple[str, Registration]]:
        return [(t, r) for t, r in self._clients.items() if r.owner_id == owner_id]

    def prune(self, connected: Callable[[str], bool]) -> int:
        """Forget tabs whose websocket is gone; returns how many."""
        gone = [t for t in self._clients if not connected(t)]
        for token in gone:
            del self._clients[token]
        return len(gone)

    def __len__(self) -> int:
        return len(self._clients)


def group_by_owner(events: list[DialogEvent]) -> dict[uuid.UUID, list[DialogEvent]]:
    grouped: dict[uuid.UUID, list[DialogEvent]] = {}
    for event in events:
        grouped.setdefault(event.owner_id, []).append(event)
    return grouped


async def subscribe_forever(channel: str, next_items: Callable[[Any], Awaitable[Any]],
                           handle: Callable[[Any], Awaitable[Any]], *, what: str,
                           redis_factory: Callable[[], Any] | None = None) -> None:
    """Forever: subscribe to `channel`, and hand what `next_items(pubsub)` returns to `handle` (nothing when it
    returns a falsy value). Reconnects after Redis failures; a failing handler is logged (as `what`) and the
    loop goes on. The one subscription loop of the web worker's live channels (dialog events, inbox tools)."""
    if redis_factory is None:
        from chatai.cache import get_redis as redis_factory
    while True:
        pubsub = None
        try:
            pubsub = redis_factory().pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(channel)
            while True:
                items = await next_items(pubsub)
                if items:
                    try:
                        await handle(items)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - one bad push must not stop live updates
                        log.warning("%s failed", what, exc_info=True)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - Redis restarting: views catch up on the next event
            log.warning("%s subscription lost; reconnecting", what, exc_info=True)
            await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            if pubsub is not None:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001, S110 - closing a broken connection
                    pass


async def run_dialog_subscriber(handle: Callable[[list[DialogEvent]], Awaitable[Any]], *,
                                redis_factory: Callable[[], Any] | None = None,
                                coalesce: float = COALESCE_SECONDS) -> None:
    """Forever: subscribe to the dialog channel and hand batches of events to `handle`."""
    await subscribe_forever(DIALOG_EVENTS_CHANNEL, lambda pubsub: _next_batch(pubsub, coalesce), handle,
                            what="live update", redis_factory=redis_factory)


async def _next_batch(pubsub: Any, coalesce: float) -> list[DialogEvent]:
    """Block for one event, then gather what else arrives within `coalesce` seconds."""
    first = await pubsub.get_message(timeout=30.0)
    if first is None:
        return []
    events = [e for e in [parse_event(first.get("data", ""))] if e is not None]
    deadline = time.monotonic() + coalesce
    while (left := deadline - time.monotonic()) > 0:
        more = await pubsub.get_message(timeout=left)
        if more is None:
            break
        event = parse_event(more.get("data", ""))
        if event is not None:
            events.append(event)
    return events


# --- fan-out: one read per owner per batch, one bounded queue per tab -------------------------------------


@dataclass
class OwnerChange:
    """What one batch changed for one owner, read ONCE for all the owner's tabs: the dialogs concerned, the
    owner's counts (`summary`) and the changed dialogs' list rows (`rows`, by id; absent when unknown: a tab
    then re-reads its list). Other kinds of live news (a typing indicator...) ride in `extra`, newest wins."""

    owner_id: uuid.UUID
    dialog_ids: set[uuid.UUID]
    summary: Any = None  # None: counts unchanged
    rows: dict[uuid.UUID, Any] | None = field(default_factory=dict)  # None: not known, re-read the list
    extra: dict[str, Any] | None = None

    def merged_with(self, newer: OwnerChange) -> OwnerChange:
        """This change and a newer one, for a tab that has not taken this one yet (its queue stays one deep)."""
        rows = None if self.rows is None or newer.rows is None else {**self.rows, **newer.rows}
        if rows is not None and len(rows) > MAX_MERGED_ROWS:  # a tab hidden all afternoon: it re-reads instead
            rows = None
        extra = {**(self.extra or {}), **(newer.extra or {})} or None
        return OwnerChange(self.owner_id, self.dialog_ids | newer.dialog_ids,
                           newer.summary if newer.summary is not None else self.summary, rows, extra)


ReadOwner = Callable[[uuid.UUID, set[uuid.UUID]], Awaitable[OwnerChange]]
Deliver = Callable[[str, OwnerChange], Awaitable[bool]]


class _Tab:
    """One tab's queue: at most one change waiting (newer ones merge into it), delivered by the tab's own
    task, so a tab whose push is slow (a busy browser, a stuck socket) holds up nobody else. A hidden tab
    (the browser says so) keeps its change waiting until it is shown again: one push then, not one per event."""

    def __init__(self, token: str, deliver: Deliver, on_gone: Callable[[str], None]) -> None:
        self.token = token
        self.waiting: OwnerChange | None = None
        self.hidden = False
        self.delivered = 0
        self.merged = 0
        self._deliver = deliver
        self._on_gone = on_gone
        self._task: asyncio.Task | None = None

    def offer(self, change: OwnerChange) -> None:
        if self.waiting is None:
            self.waiting = change
        else:
            self.waiting = self.waiting.merged_with(change)
            self.merged += 1
        self._start()

    def set_hidden(self, hidden: bool) -> None:
        self.hidden = hidden
        if not hidden:
            self._start()  # what it missed while hidden, merged into one change

    def _start(self) -> None:
        if self.waiting is not None and not self.hidden and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name=f"live-tab-{self.token[:8]}")

    async def _run(self) -> None:
        while self.waiting is not None and not self.hidden:
            change, self.waiting = self.waiting, None
            try:
                keep = await self._deliver(self.token, change)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one tab's failure is that tab's; the next change retries
                log.warning("live push to a tab failed", exc_info=True)
                keep = True
            self.delivered += 1
            if not keep:  # signed out or someone else now: nothing more for this tab
                self.waiting = None
                self._on_gone(self.token)
                return

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


class LiveFanout:
    """Dialog events -> the open tabs of their owner, at a cost per batch that does not grow with the tabs:
    `read(owner, dialog_ids)` runs once per owner per batch (not per tab), and each tab gets the result
    through its own one-deep queue (`_Tab`). `dispatch` returns once the reads are done and the changes
    queued: it never waits for a tab. Tabs come from `tabs_of(owner)` (the web worker's registry)."""

    def __init__(self, *, tabs_of: Callable[[uuid.UUID], list[str]], read: ReadOwner, deliver: Deliver,
                 forget: Callable[[str], None] = lambda _token: None) -> None:
        self._tabs_of = tabs_of
        self._read = read
        self._deliver = deliver
        self._forget = forget
        self.tabs: dict[str, _Tab] = {}
        self.reads = 0

    async def dispatch(self, events: list[DialogEvent]) -> None:
        for owner_id, owner_events in group_by_owner(events).items():
            tokens = self._tabs_of(owner_id)
            if not tokens:
                continue
            self.reads += 1
            try:
                change = await self._read(owner_id, {e.dialog_id for e in owner_events})
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - this owner's views catch up on the next event; the others go on
                log.warning("live read failed for an owner", exc_info=True)
                continue
            self.offer(tokens, change)

    def offer(self, tokens: list[str], change: OwnerChange) -> None:
        """Queue `change` for these tabs (also for other publishers of per-owner news through this layer)."""
        for token in tokens:
            tab = self.tabs.get(token)
            if tab is None:
                tab = self.tabs[token] = _Tab(token, self._deliver, self._gone)
            tab.offer(change)

    def set_hidden(self, token: str, hidden: bool) -> None:
        """The browser hid or showed this tab: a hidden tab is sent nothing until it is shown again."""
        tab = self.tabs.get(token)
        if tab is None:
            tab = self.tabs[token] = _Tab(token, self._deliver, self._gone)
        tab.set_hidden(hidden)

    def drop(self, token: str) -> None:
        """The tab closed: cancel what it was being sent."""
        tab = self.tabs.pop(token, None)
        if tab is not None:
            tab.cancel()

    def _gone(self, token: str) -> None:
        self.tabs.pop(token, None)
        self._forget(token)
