"""Waiting and stopping that never lose a cancellation.

Why: on Python 3.11, `asyncio.wait_for(x, t)` returns x's result when it is cancelled in the instant x finishes,
so the cancellation is swallowed. A loop written `while True: await wait_for(event.wait(), t)` then never ends,
and whoever stops it waits forever (a bot runner's stop hung this way when a bot came up as the runner stopped).
`asyncio.timeout` has no such window; ruff bans `asyncio.wait_for` in the product (pyproject.toml, TID251).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

RECANCEL_SECONDS = 1.0


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; whether it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()


async def cancel_and_wait(tasks: Iterable[asyncio.Task], *, what: str) -> None:
    """Cancel the tasks and return once every one has ended. A task that ignored its cancellation (a library
    swallowing it) is named in the log and cancelled again, each second, rather than waited for forever."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_SECONDS)
        for task in pending:
            log.warning("%s: task %s is still running after being cancelled; cancelling it again",
                        what, task.get_name())
            task.cancel()
    for task in tasks:  # retrieved, so asyncio does not report them as never retrieved
        if not task.cancelled() and task.exception() is not None:
            log.debug("%s: task %s ended with %r", what, task.get_name(), task.exception())
