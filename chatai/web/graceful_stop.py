"""Open browser tabs must not keep a stopping web worker alive.

Granian stops a worker gracefully: on SIGTERM it stops accepting and waits for every open connection to end
before the app's lifespan shutdown runs (the bot runner's clean stop among it). A dashboard tab holds a
websocket open for as long as it is open, so one tab kept `app run` (and systemd's stop) waiting until it
was killed. This lifespan task chains onto the worker's SIGTERM/SIGINT handler: the server's own handler
runs first (it starts the graceful stop), then every websocket is closed with Socket.IO's "server
disconnect", which the pages answer by reconnecting (to the next server, once it is up). A worker that
still does not stop is killed after serve_prod's STOP_GRACE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def _close_websockets(app: Any) -> None:
    engine = getattr(getattr(app, "sio", None), "eio", None)
    if engine is None or not engine.sockets:
        return
    log.info("closing %d open websocket(s) before the worker stops", len(engine.sockets))
    with contextlib.suppress(Exception):  # a socket whose peer is gone may fail to close: it is dropped anyway
        await engine.disconnect()


def chain_stop_handlers(loop: asyncio.AbstractEventLoop, on_stop) -> int:
    """Runs `on_stop()` after the handler the server installed for each stop signal; returns how many it
    chained. asyncio keeps one handler per signal (its private `_signal_handlers`): read it to call it."""
    handlers = getattr(loop, "_signal_handlers", None)
    if not isinstance(handlers, dict):
        return 0
    chained = 0
    for sig in STOP_SIGNALS:
        previous = handlers.get(sig)
        if previous is None:
            continue

        def handle(previous: asyncio.Handle = previous) -> None:
            previous._run()  # the server's own stop first
            on_stop()

        loop.add_signal_handler(sig, handle)
        chained += 1
    return chained


async def close_websockets_on_stop(app: Any) -> None:
    """Lifespan task: installs the chained handler, then only waits for the app's end."""
    loop = asyncio.get_running_loop()
    closing: set[asyncio.Task] = set()
    stopping: list[bool] = []

    def on_stop() -> None:
        if stopping:  # SIGTERM comes twice: from the process manager and from Granian's main process
            return
        stopping.append(True)
        task = loop.create_task(_close_websockets(app))
        closing.add(task)  # keep a reference until it is done
        task.add_done_callback(closing.discard)

    if not chain_stop_handlers(loop, on_stop):
        log.debug("no stop-signal handler to chain onto: open websockets end with the kill timeout")
    await asyncio.Event().wait()
