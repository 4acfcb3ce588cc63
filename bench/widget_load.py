"""Website widget visitors against ONE web worker (issue 21):

    .venv/bin/python -m bench.widget_load [--idle 500] [--askers 50[,100,...]] [--questions 3] [--llm 1.2]
                                         [--replies 50]

The worker is granian with one process serving the app's HTTP routes (chatai.web.api.with_api_routes: the
widget's routes exactly as in production; the Reflex pages are not part of a visitor's path), on the
embedded PostgreSQL and Redis, with the stand-in OpenAI-compatible LLM (bench/llm_standin.py) answering
every question in exactly --llm seconds, streamed word by word (the product asks for its JSON answer
object; the first word of the answer text is due at a fixed, computed time after the request arrives:
"the LLM's own time to the first word").

1. --idle visitors, each back with a conversation, open the panel (session) and keep its events stream
   open: the worker's RSS before and after, per idle connection. Then an operator takes over --replies of
   those conversations one after another and replies in each: the time from the reply (the inbox's service
   call) to its arrival on the visitor's open stream, p50 / p95 (the issue asks p95 <= 1 s).
2. With them open, --askers visitors each ask --questions questions in a row (a new visitor each, so the
   answers go the whole way: store, handoff check, reserve, retrieval, generate, deliver, settle): the time
   from sending a message to its first streamed word ("delta"), and that minus the LLM's own time to its
   first word (p50 / p95). Several --askers values step the load up: the largest held under 1 s is reported.
3. The gzipped sizes of the loader, and of the panel (page + script + style).

The abuse limits are raised in the worker (every visitor here comes from 127.0.0.1, one address): this
measures the server, not the limits.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.common import bench_database, make_assistant, percentile

ROOT = Path(__file__).resolve().parent.parent
SITE = "bench.example.com"
QUESTION = "How long does delivery take to Berlin?"
KNOWLEDGE = ("Delivery\n\nWe deliver to Berlin in two working days. Delivery is free for orders over 50 euros; "
             "otherwise it costs 5 euros. Parcels are handed over by DHL.\n")


def widget_app():  # noqa: ANN201 - granian --factory target
    """The worker's app: the production HTTP routes, with the abuse limits out of the way (see the docstring)."""
    from chatai.web.api import with_api_routes
    from chatai.widget import limits

    for name in ("VISITOR_MESSAGES", "ADDRESS_MESSAGES", "VISITOR_CONVERSATIONS", "ADDRESS_CONVERSATIONS",
                 "ADDRESS_SESSIONS"):
        old = getattr(limits, name)
        setattr(limits, name, limits.Limit(old.purpose, max_hits=10**9, window_seconds=old.window_seconds))

    async def not_here(scope, receive, send):  # noqa: ANN001
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return with_api_routes(not_here)


def llm_first_word_seconds(given: float) -> float:
    """When the stand-in's stream carries the first word of the answer text (bench/llm_standin.py's schedule:
    the first word at given/6, the others evenly until `given`), for its JSON answer object."""
    from bench.llm_standin import BODY_EN

    text = json.dumps({"answer_in_passages": True, "passages_used": [1],
                       "answer": f"{BODY_EN} (ref q-00000000 llm-{round(given * 1000)}ms t-{time.monotonic():.4f})"})
    words = re.findall(r"\S+\s*", text)
    index = next(i for i, w in enumerate(words) if w.startswith('"According'))
    first_at = given / 6
    return first_at + (given - first_at) * index / max(1, len(words) - 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _worker_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system) of the serving process(es) so far."""
    parent = psutil.Process(proc.pid)
    return sum(sum(p.cpu_times()[:2]) for p in [parent, *parent.children(recursive=True)])


def _worker_rss(proc: subprocess.Popen) -> int:
    """RSS of the serving process(es): granian's parent and its worker."""
    parent = psutil.Process(proc.pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


async def _seed(assistant_id: uuid.UUID) -> None:
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.rag.worker import process_pending
    from chatai.services.knowledge import upload_document
    from chatai.widget.models import WidgetSettings

    async with async_session() as session:
        assistant = await session.get(Assistant, assistant_id)
        owner_id = assistant.owner_id
        session.add(WidgetSettings(assistant_id=assistant_id, owner_id=owner_id, enabled=True, allowed_sites=[SITE]))
        await session.commit()
        await upload_document(session, owner_id=owner_id, assistant_id=assistant_id, filename="delivery.md",
                              data=KNOWLEDGE.encode())
    await process_pending()


async def _session(http: httpx.AsyncClient, base: str, assistant_id: uuid.UUID) -> dict:
    response = await http.post(f"{base}/widget/api/{assistant_id}/session", json={"site": SITE, "new": True})
    response.raise_for_status()
    return response.json()


async def _returning_session(http: httpx.AsyncClient, base: str, assistant_id: uuid.UUID) -> dict:
    """A visitor back on the site with a conversation to follow (a conversation exists from its first message
    on: stored here directly, as the worker stores a first message), and the session its panel then opens."""
    from chatai.widget.answering import start_conversation
    from chatai.widget.tokens import read_token

    first = await _session(http, base, assistant_id)
    visitor = read_token(first["token"], assistant_id=assistant_id)
    await start_conversation(visitor=visitor, language="en", text="Hello", client_message_id=uuid.uuid4().hex)
    response = await http.post(f"{base}/widget/api/{assistant_id}/session", json={"site": SITE,
                                                                                   "token": first["token"]})
    response.raise_for_status()
    return response.json()


@dataclass
class Followers:
    """The idle visitors' conversations, and when an operator's reply reached each one's events stream."""

    dialogs: list[uuid.UUID] = field(default_factory=list)
    replied: dict[uuid.UUID, asyncio.Future] = field(default_factory=dict)

    def reply_arrived(self, dialog_id: uuid.UUID) -> asyncio.Future:
        return self.replied.setdefault(dialog_id, asyncio.get_running_loop().create_future())


async def _idle_visitor(http: httpx.AsyncClient, base: str, assistant_id: uuid.UUID, opened: asyncio.Event,
                        counter: list[int], total: int, stop: asyncio.Event, arriving: asyncio.Semaphore,
                        followers: Followers) -> None:
    async with arriving:  # visitors arrive over a few seconds, not in one instant (30 database connections)
        session = await _returning_session(http, base, assistant_id)
    dialog_id = uuid.UUID(session["dialog"])
    url = f"{base}/widget/api/{assistant_id}/events?dialog={dialog_id}&after={session['cursor']}"
    event = ""
    async with http.stream("GET", url, headers={"Authorization": f"Bearer {session['token']}"}) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            if event == "ready" and line.startswith("data: "):
                followers.dialogs.append(dialog_id)
                counter[0] += 1
                if counter[0] == total:
                    opened.set()
            elif event == "message" and line.startswith("data: ") and json.loads(line[6:])["role"] == "operator":
                arrived = followers.reply_arrived(dialog_id)
                if not arrived.done():
                    arrived.set_result(time.monotonic())
            if stop.is_set():
                return


async def _operator_replies(assistant_id: uuid.UUID, followers: Followers, count: int) -> list[float]:
    """An operator takes over `count` of the open conversations one after another and replies in each (the
    inbox's own service calls, in this process): seconds from the reply's call to its arrival on the
    visitor's open events stream (database write, Redis, the worker's wake-up and read, the SSE write)."""
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.services import handoff

    async with async_session() as session:
        owner_id = (await session.get(Assistant, assistant_id)).owner_id
    waits = []
    for dialog_id in followers.dialogs[:count]:
        async with async_session() as session:
            await handoff.take_over(session, owner_id=owner_id, dialog_id=dialog_id, operator_id=owner_id)
        arrived = followers.reply_arrived(dialog_id)
        sent = time.monotonic()
        async with async_session() as session:
            await handoff.send_operator_message(session, owner_id=owner_id, dialog_id=dialog_id,
                                                operator_id=owner_id, text="Hello, Anna here: how can I help?")
        waits.append(await asyncio.wait_for(arrived, 60) - sent)
    return waits


async def _asker(http: httpx.AsyncClient, base: str, assistant_id: uuid.UUID, questions: int,
                 firsts: list[float], failures: list[str]) -> None:
    session = await _session(http, base, assistant_id)
    headers = {"Authorization": f"Bearer {session['token']}"}
    for n in range(questions):
        body = {"text": f"{QUESTION} ({n})", "client_message_id": uuid.uuid4().hex, "dialog": session["dialog"]}
        sent = time.monotonic()
        first = None
        final = False
        async with http.stream("POST", f"{base}/widget/api/{assistant_id}/messages", json=body,
                               headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("event: delta") and first is None:
                    first = time.monotonic() - sent
                elif line.startswith("event: final"):
                    final = True
        if first is None or not final:
            failures.append("no streamed answer" if final else "no final answer")
        else:
            firsts.append(first)


async def _run(args: argparse.Namespace, base: str, app: subprocess.Popen, assistant_id: uuid.UUID) -> dict:
    limits = httpx.Limits(max_connections=args.idle + max(args.askers) + 50, max_keepalive_connections=100)
    results: dict = {}
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0),
                                 headers={"Origin": base}) as http:
        await _session(http, base, assistant_id)  # warm: imports, pools, the first stream's subscriber
        await asyncio.sleep(1.0)
        rss_before = _worker_rss(app)
        opened, stop, counter, arriving = asyncio.Event(), asyncio.Event(), [0], asyncio.Semaphore(20)
        followers = Followers()
        idle = [asyncio.create_task(_idle_visitor(http, base, assistant_id, opened, counter, args.idle, stop,
                                                  arriving, followers)) for _ in range(args.idle)]
        await asyncio.wait_for(opened.wait(), 600)
        await asyncio.sleep(2.0)
        rss_idle = _worker_rss(app)
        cpu_idle = _worker_cpu(app)
        await asyncio.sleep(10.0)
        results["idle_cpu_percent"] = (_worker_cpu(app) - cpu_idle) / 10.0 * 100  # 500 open streams, keep-alives
        results["idle"] = {"connections": args.idle, "rss_before_mib": rss_before / 2**20,
                           "rss_idle_mib": rss_idle / 2**20,
                           "kib_per_idle_connection": (rss_idle - rss_before) / args.idle / 1024}
        replies = await _operator_replies(assistant_id, followers, args.replies)
        results["operator_reply"] = {"replies": len(replies), "p50": percentile(replies, 50),
                                     "p95": percentile(replies, 95), "max": max(replies),
                                     "load_average": os.getloadavg()[0]}
        print(json.dumps(results["operator_reply"]), flush=True)
        llm_first = llm_first_word_seconds(args.llm)
        steps = []
        for askers in args.askers:
            firsts: list[float] = []
            failures: list[str] = []
            started, cpu_before = time.monotonic(), _worker_cpu(app)
            await asyncio.gather(*(_asker(http, base, assistant_id, args.questions, firsts, failures)
                                   for _ in range(askers)))
            beyond = [f - llm_first for f in firsts]
            steps.append({"askers": askers, "answers": len(firsts), "failures": len(failures),
                          "seconds": time.monotonic() - started,
                          # load-independent: the worker's CPU per answer (the whole path, LLM client included)
                          "worker_cpu_ms_per_answer": (_worker_cpu(app) - cpu_before) * 1000 / max(1, len(firsts)),
                          "first_word_p50": percentile(firsts, 50) if firsts else None,
                          "first_word_p95": percentile(firsts, 95) if firsts else None,
                          "beyond_llm_p50": percentile(beyond, 50) if beyond else None,
                          "beyond_llm_p95": percentile(beyond, 95) if beyond else None,
                          "load_average": os.getloadavg()[0]})
            print(json.dumps(steps[-1]), flush=True)
        results["askers"] = steps
        # The widget's own share of a message (token, site, dialog, client-id claim: everything before the
        # conversation service): a retried message id stops right there.
        session = await _session(http, base, assistant_id)
        headers = {"Authorization": f"Bearer {session['token']}"}
        body = {"text": QUESTION, "client_message_id": uuid.uuid4().hex, "dialog": session["dialog"]}
        async with http.stream("POST", f"{base}/widget/api/{assistant_id}/messages", json=body,
                               headers=headers) as response:
            async for _ in response.aiter_lines():
                pass
        cpu_before = _worker_cpu(app)
        for _ in range(200):
            (await http.post(f"{base}/widget/api/{assistant_id}/messages", json=body, headers=headers)).json()
        results["widget_cpu_ms_per_retried_message"] = (_worker_cpu(app) - cpu_before) * 1000 / 200
        results["llm_first_word_seconds"] = llm_first
        held = [s["askers"] for s in steps if s["failures"] == 0 and (s["beyond_llm_p95"] or 99) < 1.0]
        results["largest_askers_under_1s"] = max(held) if held else 0
        stop.set()
        for task in idle:  # each waits on its stream's next line (a keep-alive comes every 20 s)
            task.cancel()
        await asyncio.gather(*idle, return_exceptions=True)
    return results


def sizes() -> dict[str, int]:
    folder = ROOT / "assets" / "widget"

    def gz(data: bytes) -> int:
        return len(gzip.compress(data, 9))

    panel = [(folder / n).read_bytes() for n in ("panel.js", "panel.css")]
    return {"loader_gzip_bytes": gz((folder / "loader.js").read_bytes()),
            "panel_gzip_bytes": sum(gz(b) for b in panel) + 1200}  # + the page itself (~1.2 KB gzipped, with texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--askers", default="50", help="comma-separated: the load steps")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--replies", type=int, default=50, help="operator replies to open conversations")
    parser.add_argument("--llm", type=float, default=1.2, help="the stand-in LLM's seconds per answer")
    args = parser.parse_args()
    args.askers = [int(n) for n in args.askers.split(",")]
    llm = app = None
    with bench_database("widget_load"):
        try:
            llm = subprocess.Popen([sys.executable, "-m", "bench.llm_standin", "--port", "0", "--min", str(args.llm),
                                    "--max", str(args.llm)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                   start_new_session=True)
            llm_url = f"http://127.0.0.1:{int(llm.stdout.readline().strip())}/v1"
            os.environ.update({"OPENAI_BASE_URL": llm_url, "OPENAI_API_KEY": "bench"})
            from chatai.settings import get_settings

            get_settings.cache_clear()
            assistant_id = asyncio.run(make_assistant())
            asyncio.run(_seed(assistant_id))
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            env = {**os.environ, "PUBLIC_URL": base, "RUN_BOTS_IN_WEB": "false", "LOG_LEVEL": "WARNING"}
            app = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host",
                                    "127.0.0.1", "--port", str(port), "--workers", "1", "--no-ws",
                                    "bench.widget_load:widget_app"], cwd=ROOT, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL)
            for _ in range(600):
                try:
                    httpx.get(f"{base}/widget/loader.js", timeout=1.0)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            results = asyncio.run(_run(args, base, app, assistant_id))
            results.update(sizes())
            print(json.dumps(results, indent=2))
        finally:
            _stop(app)
            _stop(llm)


if __name__ == "__main__":
    main()
