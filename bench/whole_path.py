"""Load test of the whole path: N Telegram customers over M bots, answered from a real knowledge base by a
stand-in LLM that streams for 1-3 s, while K dashboard tabs watch the inbox.

    .venv/bin/python -m bench.whole_path [--chats 40] [--bots 6] [--dashboards 3] [--socket-tabs 0]
                                         [--businesses 1] [--runners 1] [--workers 1] [--duration 60] [--step-up]

--dashboards K: K Chromium tabs on the inbox (bench/inbox_watchers.py; one sign-in through the page, the
first business's). --socket-tabs K: K inbox tabs as raw WebSocket clients speaking Reflex's socket.io
themselves, no rendering, all in one process whose CPU is reported apart (bench/inbox_sockets.py): 50-200
Chromium tabs do not fit this machine, these do. --businesses M: the bots spread over M owners (bot i is
business i % M's; each owner signs in once and has its own balance; needs --bots >= M), the socket tabs
evenly over them (tab j shows business j % M, and is expected to show only that business's questions).

Processes, as in production: the web app (`reflex run --env prod`, as tests/e2e start it, RUN_BOTS_IN_WEB
=false; two workers share state through Redis with --workers 2; with no Chromium tab the same Granian worker
without the frontend build) and 1 or 2 `python -m chatai bots run` runners, on the embedded PostgreSQL (a
throwaway database `bench_whole_path`) and Redis (db 15; Reflex's state manager db 14). Stand-ins, each its
own process so its CPU is reported apart: the fake Bot API with the simulated customers
(bench/load_telegram.py) and an OpenAI-compatible LLM (bench/llm_standin.py).

Set-up through the services (bench/whole_path_setup.py): one owner (or M) with a large balance, one assistant
per business of bench/russian_businesses.py (per owner, those its bots need; its files uploaded and ingested
by the ingestion worker; OpenAI mode, so the stand-in also embeds: the product embeds with the LLM server
whenever one is configured), the bots connected with connect_bot (getMe at the fake), spread over the
assistants. Handoff is off and the score threshold 0, so every question goes through retrieval and the LLM (a
dialog handed to a person would mute the AI).

Each customer asks its bot's business questions one after another (the next as soon as the reply arrives).
End-to-end = update queued at the fake Telegram -> the reply's sendMessage arriving there; "beyond the LLM" =
that minus the time the stand-in was told to take for this answer (written into the answer). The first
--warmup seconds of a step are left out of latencies and throughput, not out of error counts.
The part beyond the LLM is split on one clock (the stand-in writes when the request reached it): before the
model (persist, reserve, retrieval, prompt) and after it (save, send). Inbox arrivals are split likewise into
the server's part (until the WebSocket message carrying the change) and the browser's (bench/inbox_watchers.py).
--step-up runs N = --steps (default 10, 20, 40, ...) until p95 beyond the LLM passes 2 s or errors pass 1%,
first with 1 runner + 1 worker, then with 2 + 2 (unless --runners/--workers pin one configuration).
Several runners started together do not spread the bots by themselves (the first takes them all), so the bots
are paused until every runner is up and resumed then (`start_runners_sharing`). The machine's own load is
printed beside each step: on shared cores the knee moves with other work. Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import bench_database
from bench.inbox_sockets import SocketTabs
from bench.inbox_watchers import InboxWatchers
from bench.proc_sampler import ProcessSampler, descendants
from bench.whole_path_report import passes, print_step, print_summary, summarize
from bench.whole_path_setup import (
    OWNER_PASSWORD,
    Tenant,
    actl,
    bots_per_runner,
    clear_runner_keys,
    session_cookies,
    set_up_tenant,
    start_runners_sharing,
    wait_polling,
)
from tests.e2e.conftest import wait_for_app

ROOT = Path(__file__).resolve().parent.parent


# --- processes ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_printing_port(module: str, *extra: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", "0", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    return proc, int(proc.stdout.readline().strip())  # type: ignore[union-attr]


def _stop(proc: subprocess.Popen | None, *, group: bool = True) -> None:
    """SIGTERM (to the process group it leads), SIGKILL after 20 s."""
    if proc is None or proc.poll() is not None:
        return
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Stack:
    logs: Path
    telegram: subprocess.Popen | None = None
    telegram_url: str = ""
    llm: subprocess.Popen | None = None
    llm_url: str = ""
    app: subprocess.Popen | None = None
    app_url: str = ""
    runners: list[subprocess.Popen] = field(default_factory=list)
    socket_tabs: SocketTabs | None = None

    def start_standins(self, llm_min: float, llm_max: float) -> None:
        self.telegram, port = _start_printing_port("bench.load_telegram")
        self.telegram_url = f"http://127.0.0.1:{port}"
        self.llm, port = _start_printing_port("bench.llm_standin", "--min", str(llm_min), "--max", str(llm_max))
        self.llm_url = f"http://127.0.0.1:{port}/v1"

    def product_env(self) -> dict[str, str]:
        from chatai.cli.app import reflex_environment

        env = reflex_environment()  # os.environ (the bench database, stand-in URLs) + the project's bun
        env.update({"TELEGRAM_MODE": "polling", "RUN_BOTS_IN_WEB": "false", "LOG_LEVEL": "WARNING"})
        return env

    def start_app(self, workers: int, *, backend_only: bool = False) -> None:
        """`reflex run --env prod`; without Chromium tabs the frontend is not needed: Granian serves the app
        as a production worker does (the WebSocket and the routes, its pages not compiled; tests/web/
        test_origin_guard.py starts it so), minutes of build saved."""
        from chatai.embedded import redis_url
        from chatai.settings import get_settings

        port = _free_port()
        self.app_url = f"http://127.0.0.1:{port}"
        env = self.product_env()
        env.update({"PORT": str(port), "PUBLIC_URL": self.app_url, "HOST": "127.0.0.1",
                    "GRANIAN_WORKERS": str(workers)})
        if workers > 1:  # Reflex's state manager goes to Redis only through REFLEX_REDIS_URL
            env["REFLEX_REDIS_URL"] = redis_url(get_settings().redis_socket) + "?db=14"
        command = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--loglevel", "warning",
                   "--backend-host", "127.0.0.1"]
        if backend_only:
            env.update({"REFLEX_SKIP_COMPILE": "true", "REFLEX_ENV_MODE": "prod"})
            command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
                       "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                       "chatai.chatai:app"]
        log = self.logs / f"app-{workers}w.log"
        with log.open("w") as out:
            self.app = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_for_app(f"{self.app_url}/ping", self.app, log, timeout=400)

    def start_runners(self, n: int) -> None:
        env = self.product_env()
        for i in range(n):
            log = (self.logs / f"runner-{i + 1}.log").open("w")
            self.runners.append(subprocess.Popen([sys.executable, "-m", "chatai", "bots", "run"], cwd=ROOT, env=env,
                                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def stop_product(self) -> None:
        for proc in self.runners:
            _stop(proc)
        self.runners.clear()
        _stop(self.app)
        self.app = None

    def stop_all(self) -> None:
        self.stop_product()
        _stop(self.telegram)
        _stop(self.llm)

    def groups(self) -> dict[str, list[psutil.Process]]:
        """Process groups to sample: the product's processes one by one, the rest together."""
        from chatai.embedded import postgres_pid, redis_pid
        from chatai.settings import get_settings

        settings = get_settings()
        out: dict[str, list[psutil.Process]] = {}
        if self.app is not None:
            tree = descendants(self.app.pid)
            workers = _web_workers(tree)
            for n, proc in enumerate(workers, 1):
                out[f"web worker {n}"] = [proc]
            out["web main (reflex, granian)"] = [p for p in tree if p not in workers]
        for n, proc in enumerate(self.runners, 1):
            out[f"runner {n}"] = descendants(proc.pid)
        pg = postgres_pid(settings.pg_data_dir)
        out["postgres"] = descendants(pg) if pg else []
        rd = redis_pid(settings.redis_dir)
        out["redis"] = descendants(rd) if rd else []
        out["stand-in: telegram + customers"] = descendants(self.telegram.pid) if self.telegram else []
        out["stand-in: LLM"] = descendants(self.llm.pid) if self.llm else []
        tabs_pid = self.socket_tabs.pid if self.socket_tabs is not None else None
        out["socket tabs (one asyncio process)"] = descendants(tabs_pid) if tabs_pid else []
        known = {p.pid for procs in out.values() for p in procs}
        me = psutil.Process()
        out["browser (playwright, chromium)"] = [p for p in me.children(recursive=True) if p.pid not in known]
        out["bench process"] = [me]
        return out


def _web_workers(tree: list[psutil.Process]) -> list[psutil.Process]:
    """Granian's workers: children of a process with the same command line (tests/e2e/test_scale_out.py)."""
    workers = []
    for proc in tree:
        try:
            parent = proc.parent()
            if parent is not None and proc.cmdline() == parent.cmdline():
                workers.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if not workers:  # in case a worker's command line differs from its parent's
        workers = [p for p in tree if p.pid != tree[0].pid and _is_python(p)][-1:]
    return workers


def _is_python(proc: psutil.Process) -> bool:
    try:
        return "python" in proc.name()
    except psutil.NoSuchProcess:
        return False


# --- one step --------------------------------------------------------------------------------------------


Views = dict[str, Any]  # "Chromium" -> InboxWatchers, "socket" -> SocketTabs: the inbox tabs of each kind


async def run_step(args: argparse.Namespace, stack: Stack, tenant: Tenant, views: Views, chats: int,
                   step_no: int) -> dict[str, Any]:
    url = stack.telegram_url
    plan = [[1_000_000 + step_no * 10_000 + i, tenant.tokens[i % len(tenant.tokens)], i % len(tenant.tokens),
             tenant.bot_sets[i % len(tenant.tokens)]] for i in range(chats)]
    for view in views.values():
        await view.reset()
    sampler = ProcessSampler(stack.groups).start()
    started = time.monotonic()
    await actl(url, "start_customers", {"chats": plan, "question_sets": tenant.question_sets,
                                        "timeout": args.timeout, "ramp": args.ramp})
    await asyncio.sleep(args.duration)
    await actl(url, "stop_customers")
    stopped = time.monotonic()
    usage = sampler.stop()
    machine = sampler.machine
    while (await actl(url, "customers_done"))["running"]:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # a duplicate or late reply shows up
    results = await actl(url, "results")
    seen = {kind: await view.events() for kind, view in views.items()}
    businesses = len(tenant.owner_ids)  # Chromium tabs show the first business; socket tab j business j % M
    audiences = {kind: [0 if kind == "Chromium" else j % businesses for j in range(len(tabs))]
                 for kind, tabs in seen.items()}
    step = summarize(chats, results, seen, usage, machine, window=stopped - started, warmup=args.warmup,
                     audiences=audiences, bot_owners=tenant.bot_owners)
    if "socket" in views:  # what each socket tab had to read (the clients' own CPU is for this many frames)
        frames = views["socket"].last_frames
        step["live"]["socket"]["frames_per_tab_s"] = sum(frames) / max(1, len(frames)) / (time.monotonic() - started)
        step["live"]["socket"]["errors"] = views["socket"].last_errors
    return step


# --- the bench -------------------------------------------------------------------------------------------


async def open_views(args: argparse.Namespace, stack: Stack, tenant: Tenant, views: Views) -> None:
    if args.dashboards:
        views["Chromium"] = await InboxWatchers(stack.app_url).start(args.dashboards, tenant.emails[0], OWNER_PASSWORD)
    if args.socket_tabs:
        t0 = time.monotonic()
        tabs = await SocketTabs(stack.app_url).start(await session_cookies(tenant, args.socket_tabs))
        stack.socket_tabs = tabs
        views["socket"] = tabs
        print(f"  socket tabs: {tabs.opened['loaded']}/{tabs.opened['tabs']} with the inbox loaded in "
              f"{time.monotonic() - t0:.0f} s over {min(args.socket_tabs, len(tenant.emails))} business(es)"
              + (f"; errors {tabs.opened['errors']}" if tabs.opened["errors"] else ""), flush=True)


async def run_config(args: argparse.Namespace, stack: Stack, tenant: Tenant, runners: int, workers: int,
                     steps: list[int]) -> list[dict[str, Any]]:
    print(f"\n== {runners} runner(s) + {workers} web worker(s), {len(tenant.tokens)} bots of "
          f"{len(tenant.owner_ids)} business(es), {args.dashboards} Chromium + {args.socket_tabs} socket inbox "
          f"tab(s) ==", flush=True)
    await clear_runner_keys()
    t0 = time.monotonic()
    stack.start_app(workers, backend_only=not args.dashboards)
    print(f"  app up in {time.monotonic() - t0:.0f} s at {stack.app_url}", flush=True)
    await start_runners_sharing(stack, tenant, runners)
    await wait_polling(stack.telegram_url, len(tenant.tokens))
    print(f"  bots per runner: {await bots_per_runner(tenant)}", flush=True)
    views: Views = {}
    results = []
    try:
        await open_views(args, stack, tenant, views)
        for n in steps:
            step = await run_step(args, stack, tenant, views, n, step_no=len(results) + 100 * (runners + workers))
            step["bots_per_runner"] = await bots_per_runner(tenant)
            results.append(step)
            print_step(step)
            if args.step_up and not passes(step):
                break
    finally:
        for view in views.values():
            await view.close()
        stack.socket_tabs = None
        stack.stop_product()
    return results


async def bench(args: argparse.Namespace, stack: Stack) -> dict[str, list[dict[str, Any]]]:
    from chatai.llm.client import reset_openai_client
    from chatai.settings import get_settings

    os.environ.update({"TELEGRAM_API_URL": stack.telegram_url, "OPENAI_BASE_URL": stack.llm_url,
                       "OPENAI_API_KEY": "sk-bench", "TELEGRAM_MODE": "polling"})
    get_settings.cache_clear()
    reset_openai_client()
    t0 = time.monotonic()
    tenant = await set_up_tenant(stack.telegram_url, args.bots, args.businesses)
    print(f"set-up: {len(tenant.tokens)} bots of {len(tenant.owner_ids)} business(es), {tenant.assistants} "
          f"assistants, {tenant.chunks} chunks ingested in {time.monotonic() - t0:.1f} s", flush=True)
    if args.runners is None and args.workers is None and args.step_up:
        configs = [(1, 1), (2, 2)]
    else:
        configs = [(args.runners or 1, args.workers or 1)]
    steps = args.steps if args.step_up else args.chats
    return {f"{r}x{w}": await run_config(args, stack, tenant, r, w, steps) for r, w in configs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=lambda v: [int(x) for x in v.split(",")], default=[40],
                        help="concurrent customers (comma-separated: one step each)")
    parser.add_argument("--bots", type=int, default=6)
    parser.add_argument("--dashboards", type=int, default=3, help="signed-in Chromium inbox tabs (0: none)")
    parser.add_argument("--socket-tabs", type=int, default=0,
                        help="inbox tabs as raw WebSocket clients, no rendering (bench/inbox_sockets.py)")
    parser.add_argument("--businesses", type=int, default=1,
                        help="owners the bots (and socket tabs) are spread over; needs --bots >= this")
    parser.add_argument("--runners", type=int, choices=(1, 2), default=None)
    parser.add_argument("--workers", type=int, choices=(1, 2), default=None)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per step")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds left out of latencies and throughput")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds over which the customers start")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a customer waits for a reply")
    parser.add_argument("--step-up", action="store_true", help="grow N until p95 beyond the LLM passes 2 s")
    parser.add_argument("--steps", type=lambda v: [int(x) for x in v.split(",")],
                        default=[10, 20, 40, 60, 80, 120, 160, 240, 320])
    parser.add_argument("--llm-min", type=float, default=1.0)
    parser.add_argument("--llm-max", type=float, default=3.0)
    parser.add_argument("--keep-logs", action="store_true", help="print the tail of the app's and runners' logs")
    args = parser.parse_args()

    os.environ["LOG_LEVEL"] = "WARNING"
    with tempfile.TemporaryDirectory(prefix="whole-path-") as logs:
        stack = Stack(Path(logs))
        try:
            stack.start_standins(args.llm_min, args.llm_max)
            with bench_database("whole_path"):
                results = asyncio.run(bench(args, stack))
                llm_stats = httpx.get(stack.llm_url.removesuffix("/v1") + "/_stats", timeout=10).json()
        finally:
            stack.stop_all()
            if args.keep_logs:
                for path in sorted(Path(logs).iterdir()):
                    print(f"--- {path.name}\n{path.read_text()[-3000:]}")
    print_summary(results)
    print(f"stand-in LLM: {llm_stats['chats']} answers, {llm_stats['rewrites']} follow-up rewrites, "
          f"{llm_stats['embeddings']} embeddings, at most "
          f"{llm_stats['max_active']} streams at once; streams ended late by p50 {llm_stats['late_p50_ms']} / p95 "
          f"{llm_stats['late_p95_ms']} ms (counted as overhead)")


if __name__ == "__main__":
    main()
