"""Parsing under a hostile owner (issue 19, Medium and Low), the timings the tests no longer assert:

1. One owner uploads six ~6 MB DOCX files whose document.xml unpacks to ~100 MB (ratio ~17), all at once;
   another owner then uploads a one-line .txt. Wall time of the .txt upload, of each hostile refusal,
   peak RSS of the app process plus its parse children (sampled every 20 ms), most children at once.
   Run with the text cap on (the default) and off (MAX_TEXT_CHARS huge: what reaches the parse child's
   memory limit), each with the default parse slots (2, one per owner).
2. HTML with many siblings: seconds to parse 10,000 and 40,000 paragraphs and their ratio (linear: ~4).
3. The upload guard: bytes it reads of a 95 MB file (per-file limit 10 MB) before the 413.

    .venv/bin/python -m bench.parse_fairness
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import psutil

from bench.common import bench_database
from bench.ingest_fairness import owner_and_assistant, upload

MIB = 1048576


class PeakMemory:
    """Samples RSS of this process + its parse children, and how many children run at once."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.most_children = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        me = psutil.Process()
        while True:
            total = me.memory_info().rss
            children = 0
            for child in me.children(recursive=True):
                try:
                    if "chatai.rag.parse_process" in " ".join(child.cmdline()):
                        children += 1
                        total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / MIB)
            self.most_children = max(self.most_children, children)
            await asyncio.sleep(0.02)

    def __enter__(self) -> PeakMemory:
        self._task = asyncio.create_task(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def timed_upload(tenant, name: str, data: bytes) -> tuple[float, str]:
    from chatai.services.knowledge import UploadError

    started = time.monotonic()
    try:
        await upload(tenant, name, data)
        outcome = "stored"
    except UploadError as exc:
        outcome = exc.message[:70]
    return time.monotonic() - started, outcome


async def hostile_owner(label: str, env: dict[str, str]) -> None:
    from chatai.rag.parse_process import parse_slots
    from chatai.settings import get_settings
    from tests.rag.hostile_files import dense_text_docx

    os.environ.update(env)
    get_settings.cache_clear()
    try:
        attacker, other = await owner_and_assistant(f"attacker-{label}"), await owner_and_assistant(f"other-{label}")
        data = dense_text_docx()
        slots = parse_slots()
        base_mb = psutil.Process().memory_info().rss / MIB
        with PeakMemory() as memory:
            started = time.monotonic()
            hostile = [asyncio.create_task(timed_upload(attacker, f"{uuid.uuid4().hex[:6]}.docx", data))
                       for _ in range(6)]
            for _ in range(3000):  # until the attacker has files queued behind its share
                if slots.waiting().get(str(attacker.owner_id)):
                    break
                await asyncio.sleep(0.01)
            txt_seconds, txt_outcome = await timed_upload(other, "hours.txt", b"We are open from 9 to 18.")
            results = await asyncio.gather(*hostile)
            all_seconds = time.monotonic() - started
        refusals = sorted(seconds for seconds, _ in results)
        print(f"  {label}: other owner's .txt {txt_seconds:.2f} s ({txt_outcome}); 6 hostile DOCX "
              f"({len(data) / MIB:.1f} MB each) refused after {', '.join(f'{s:.1f}' for s in refusals)} s "
              f"(all {all_seconds:.1f} s); app + children peak {memory.peak_mb:.0f} MB (app before {base_mb:.0f}),"
              f" at most {memory.most_children} children; slots {slots.slots}, share {slots.share}")
        print(f"    refusal: {results[0][1]}")
    finally:
        for name in env:
            os.environ.pop(name, None)
        get_settings.cache_clear()


def html_siblings() -> None:
    from chatai.rag.parsing import parse_document

    def seconds(n: int) -> float:
        page = b"<div>" + b"<p>some words of text here</p>" * n + b"</div>"
        started = time.process_time()
        parse_document("flat.html", page)
        return time.process_time() - started

    small, large = seconds(10_000), seconds(40_000)
    print(f"HTML siblings: 10,000 paragraphs {small:.2f} s CPU, 40,000 {large:.2f} s CPU: ratio {large / small:.1f}"
          " (linear 4, quadratic 16)")


async def upload_guard() -> None:
    from chatai.web import http_guards

    read = 0
    boundary = "bench"

    async def app(scope, receive, send):
        nonlocal read
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                break

    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n\r\n").encode()
    pieces = [head] + [b"a" * (64 * 1024)] * (95 * 16) + [f"\r\n--{boundary}--\r\n".encode()]

    async def receive():
        return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)} if pieces else \
            {"type": "http.disconnect"}

    status = []

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {"type": "http", "path": "/_upload", "method": "POST",
             "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
                         (b"reflex-event-handler", b"x.y")]}
    guarded = http_guards.guard_uploads(app, session_ok=lambda token: _true())
    original = http_guards.known_upload_handler
    http_guards.known_upload_handler = lambda name: True
    try:
        await guarded(scope, receive, send)
    finally:
        http_guards.known_upload_handler = original
    print(f"upload guard: a 95 MB file (per-file limit 10 MB) answered {status} after the app read "
          f"{read / MIB:.2f} MB of it")


async def _true() -> bool:
    return True


async def main() -> None:
    print("one owner's six ratio-17 DOCX files, another owner's .txt (2 parse slots, 1 per owner):")
    await hostile_owner("text cap on", {})
    await hostile_owner("text cap off", {"MAX_TEXT_CHARS": str(10**10), "MAX_TEXT_CHARS_PER_MB": str(10**10),
                                         "MAX_ELEMENTS": str(10**8)})
    html_siblings()
    await upload_guard()


if __name__ == "__main__":
    with bench_database(f"parse_fairness_{uuid.uuid4().hex[:6]}"):
        asyncio.run(main())
