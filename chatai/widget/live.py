"""Live events for open visitor streams, across web workers. No Reflex here.

Every writer of a dialog (the conversation service, the inbox's operator replies, take-over, release, the
handoff timeout) already publishes a nudge on Redis `chatai:dialogs` after its commit (services/live.py).
Each web worker runs ONE subscriber (started with the first visitor stream of the process) and wakes only
the streams of this worker that watch the nudged dialog; each stream then reads what is new from the
database after its own cursor. A missed nudge only delays a message until the next one or a reconnect:
the database stays the truth, and a stream never needs a Redis connection of its own (500 idle visitors
cost 500 small queues, not 500 subscriptions)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from chatai.services.live import DialogEvent, run_dialog_subscriber

log = logging.getLogger(__name__)


class StreamRegistry:
    """Dialog id -> the wake-up queues of this process's open streams watching it."""

    def __init__(self) -> None:
        self._streams: dict[uuid.UUID, set[asyncio.Queue[str]]] = {}

    @contextmanager
    def watch(self, dialog_id: uuid.UUID) -> Iterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
        self._streams.setdefault(dialog_id, set()).add(queue)
        try:
            yield queue
        finally:
            streams = self._streams.get(dialog_id)
            if streams is not None:
                streams.discard(queue)
                if not streams:
                    del self._streams[dialog_id]

    def wake(self, dialog_id: uuid.UUID, kind: str) -> int:
        """Wake every stream of this dialog; returns how many. A full queue already has a wake-up pending."""
        streams = self._streams.get(dialog_id, ())
        for queue in streams:
            try:
                queue.put_nowait(kind)
            except asyncio.QueueFull:
                pass
        return len(streams)

    def dialogs(self) -> int:
        return len(self._streams)

    def streams(self) -> int:
        return sum(len(s) for s in self._streams.values())


REGISTRY = StreamRegistry()
_subscriber: asyncio.Task | None = None


async def _dispatch(events: list[DialogEvent]) -> None:
    for event in events:
        REGISTRY.wake(event.dialog_id, event.type)


def ensure_subscriber() -> None:
    """Start this process's subscriber once (per event loop): the first visitor stream does it, so a worker
    with no visitor holds no subscription, and the app's wiring needs no line for it."""
    global _subscriber
    loop = asyncio.get_running_loop()
    if _subscriber is not None and not _subscriber.done() and _subscriber.get_loop() is loop:
        return
    _subscriber = loop.create_task(run_dialog_subscriber(_dispatch), name="widget-live")
