"""Bench-only probe: where a webhook update's reply overhead goes, stage by stage (issue 24).

`bench.bots_10k --stages` sets BENCH_STAGES to a folder; then the webhook app and the runner of
bench/bots_10k_parts.py call `install_web()` / `install_runner()`, which wrap the functions an update passes
through and append one line per stage to `<folder>/<process>-<pid>.txt`: "<stage> <chat id> <monotonic>".
CLOCK_MONOTONIC is one clock for every process of the machine, so the load generator's POST time, each
process's stages and the fake Bot API's receive time line up. In the bench one chat is one update, so the chat
id names the update. Nothing here is imported by the product; it only wraps its functions in the bench's own
processes.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
import time
from collections import defaultdict
from typing import Any

CHAT: contextvars.ContextVar[int] = contextvars.ContextVar("bench_stage_chat", default=0)
_lines: list[str] = []
_path = ""


def mark(stage: str, chat: int | None = None) -> None:
    chat = CHAT.get() if chat is None else chat
    if chat:
        _lines.append(f"{stage} {chat} {time.monotonic():.6f}\n")
        if len(_lines) >= 200:
            flush()


def flush() -> None:
    if _path and _lines:
        with open(_path, "a") as out:
            out.writelines(_lines)
        _lines.clear()


def _open(role: str) -> None:
    global _path
    folder = os.environ["BENCH_STAGES"]
    _path = os.path.join(folder, f"{role}-{os.getpid()}.txt")
    import atexit

    atexit.register(flush)


def _around(owner: Any, name: str, stage: str) -> None:
    """Mark `<stage>.in` before and `<stage>.out` after the coroutine function owner.name."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(f"{stage}.in")
        try:
            return await inner(*args, **kwargs)
        finally:
            mark(f"{stage}.out")

    setattr(owner, name, wrapped)


def install_web() -> None:
    """The webhook route: request in, update stored, runner told, events published, 200."""
    from chatai.bots import webhook
    from chatai.services import dialogs

    _open("web")
    handle = webhook.handle_webhook

    async def probed(request: Any) -> Any:
        body = await request.body()  # cached by Starlette: the route reads the same bytes
        with contextlib.suppress(ValueError, KeyError, TypeError):
            CHAT.set(int(json.loads(body)["message"]["chat"]["id"]))
        mark("web.request")
        try:
            return await handle(request)
        finally:
            mark("web.response")
            flush()

    webhook.handle_webhook = probed
    _around(dialogs, "record_incoming", "web.store")
    _around(webhook, "publish_command", "web.tell_runner")
    _around(dialogs, "publish_dialog_event", "web.dialog_event")


def _async_cm(owner: Any, name: str, stage: str) -> None:
    inner = getattr(owner, name)

    @contextlib.asynccontextmanager
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(f"{stage}.in")
        async with inner(*args, **kwargs) as value:
            mark(f"{stage}.open")
            yield value

    setattr(owner, name, wrapped)


def install_runner() -> None:
    """The runner: the command task, the answer task, each database step and the send."""
    from chatai.bots import handlers, runner, supervisor
    from chatai.conversation import charging
    from chatai.services import dialogs

    _open("runner")
    on_command = runner.BotRunner._on_command

    async def probed_command(self: Any, action: str, bot_id: Any, update_ids: Any = None,
                             delivered: Any = None) -> Any:
        for item in delivered or []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                mark("run.command", int(item["chat_id"]))
        return await on_command(self, action, bot_id, update_ids, delivered)

    runner.BotRunner._on_command = probed_command
    answer = supervisor.BotWorker._answer

    async def probed_answer(self: Any, pending: Any) -> Any:
        CHAT.set(pending.chat_id)
        mark("run.answer_task")
        return await answer(self, pending)

    supervisor.BotWorker._answer = probed_answer
    _around(handlers, "respond", "run.respond")
    _around(charging, "reserve", "run.reserve")
    _around(dialogs, "save_reply", "run.save_reply")
    _around(dialogs, "held_by_person", "run.held_by_person")
    _around(charging, "before_send", "run.before_send")
    _around(charging, "after_send", "run.after_send")
    _around(supervisor.BotWorker, "_send_one", "run.send")
    _around(supervisor.Throttle, "wait", "run.throttle")
    _async_cm(runner.BotRunner, "db", "run.db")


def report(folder: str, posted: dict[int, float], sends: dict[int, list[float]]) -> list[str]:
    """Per stage, the p50/p95/max of the time from the POST to that stage (ms), in the order an update meets
    them; every stage's first mark per update."""
    from bench.common import percentile

    first: dict[str, dict[int, float]] = defaultdict(dict)
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as lines:
            for line in lines:
                stage, chat, at = line.split()
                first[stage].setdefault(int(chat), float(at))
    for chat, times in sends.items():
        first["fake.sendMessage"][chat] = min(times)
    rows = []
    for stage, by_chat in first.items():
        since = [(at - posted[c]) * 1000 for c, at in by_chat.items() if c in posted]
        if since:
            rows.append((percentile(since, 50), stage, since))
    out = ["  stages (ms since the POST; first mark per update; p50 / p95 / max, updates seen):"]
    for _, stage, since in sorted(rows):
        out.append(f"    {stage:26} {percentile(since, 50):8.1f} {percentile(since, 95):8.1f} {max(since):8.1f}"
                   f"  ({len(since)})")
    return out
