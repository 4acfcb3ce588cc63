"""A test still running after HANG_REPORT_SECONDS gets its threads' and asyncio tasks' stacks written to stderr
once, so a hang in CI shows where it waits (the loop's select() alone names nothing). It reports, never fails or
stops a test: the budget for a slow machine stays the test's own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
import traceback

import pytest

HANG_REPORT_SECONDS = float(os.environ.get("HANG_REPORT_SECONDS", "600"))
_running: dict[str, object] = {"test": None, "since": 0.0, "reported": True, "loop": None, "capture": None}
_original_run_until_complete = asyncio.BaseEventLoop.run_until_complete


def _remember_loop(self: asyncio.BaseEventLoop, future: object) -> object:
    _running["loop"] = self
    return _original_run_until_complete(self, future)


def _report() -> None:
    out = sys.__stderr__
    print(f"\n===== {_running['test']} still running after {HANG_REPORT_SECONDS:.0f} s =====", file=out)
    for thread_id, frame in sys._current_frames().items():
        print(f"--- thread {thread_id}", file=out)
        traceback.print_stack(frame, file=out)
    loop = _running["loop"]
    try:
        tasks = list(asyncio.all_tasks(loop)) if isinstance(loop, asyncio.AbstractEventLoop) else []
    except RuntimeError:  # the set changed while read from this thread: once more
        tasks = list(asyncio.all_tasks(loop))
    for task in tasks:
        print(f"--- task {task.get_name()}: {task.get_coro()}", file=out)
        task.print_stack(limit=25, file=out)
    out.flush()


def _watch() -> None:
    while True:
        time.sleep(5)
        if not _running["reported"] and time.monotonic() - float(_running["since"]) > HANG_REPORT_SECONDS:
            _running["reported"] = True
            capture = _running["capture"]
            try:  # to the terminal: the test's own output is being captured
                with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
                    _report()
            except Exception as exc:  # noqa: BLE001 - a report must never break the run
                print(f"hang report failed: {exc!r}", file=sys.__stderr__)


def pytest_configure(config: pytest.Config) -> None:
    _running["capture"] = config.pluginmanager.getplugin("capturemanager")
    asyncio.BaseEventLoop.run_until_complete = _remember_loop  # type: ignore[method-assign]
    threading.Thread(target=_watch, name="hang-report", daemon=True).start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
    _running.update(test=item.nodeid, since=time.monotonic(), reported=False)
    yield
    _running.update(reported=True)
