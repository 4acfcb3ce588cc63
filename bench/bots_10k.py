"""10,000 Telegram bots on one machine (issue 24): webhook mode with one runner and one web worker, polling with
one runner and then two (rebalanced), and the bot lists' keyset paging.

    .venv/bin/python -m bench.bots_10k [--bots 10000] [--rate 100] [--seconds 30] [--idle 20] [--setup-rate 500]
                                       [--only webhook,polling,failover,paging]

Every part is its own process, measured apart (bench/bots_10k_parts.py): the fake Bot API, the runner(s) with
instant answers (no model, no retrieval), and in webhook mode the webhook route served by one Granian worker
(the route the app mounts, without the rest of the Reflex app). Updates are POSTed to that route by this process
as Telegram would (secret header, one update a request); reply overhead = POST sent -> sendMessage received at the
fake (one monotonic clock), so it includes the web worker storing the update, the runner being told through
Redis, the answer and its bookkeeping. Polling overhead is bench.bots_scale's (update handed out -> sendMessage).

Set-up calls are paced at --setup-rate per second (the fake does not rate-limit; production default 20/s, see
BOT_SETUP_PER_SECOND): the first start's time scales as bots / rate; a restart's does not depend on it.
The paging part (the bot lists with 10,000 bots): bench/bots_10k_paging.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import psutil

from bench.common import bench_database
from bench.webhook_load import RESPONSE_MS, overheads_of, pcts, post_load

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILOVER_IDS = 500_000  # the failover part's chat and update ids start here (after the webhook part's)
COMPARE_IDS = 250_000  # those of the webhook part's second load (--compare-before)
WARMUP_IDS = 750_000  # those of the webhook part's warm-up load (--warmup)
POLLING_LIMIT = 900  # seconds for 10,000 polling bots to come up (one runner did not, on a busy machine)


class Child:
    """A process of the bench; a runner's JSON status lines are kept as `latest`."""

    log_path = ""  # the children's stderr (their warnings), one file for the run
    started: list[Child] = []  # every child of the run, stopped at its end whatever happened

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        with open(Child.log_path or os.devnull, "a") as log:
            self.proc = subprocess.Popen(args, cwd=HERE, stdout=subprocess.PIPE, stderr=log, text=True,
                                         env={**os.environ, **(env or {})})
        self.ps = psutil.Process(self.proc.pid)
        Child.started.append(self)
        self.latest: dict[str, Any] = {}
        self.first_line = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            if not self.first_line:
                self.first_line = line.strip()
            if line.startswith("{"):
                self.latest = json.loads(line)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system + sum(c.cpu_times().user + c.cpu_times().system
                                               for c in self.ps.children(recursive=True))

    def rss(self) -> int:
        return self.ps.memory_info().rss + sum(c.memory_info().rss for c in self.ps.children(recursive=True))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait(predicate: Any, limit: float) -> float:
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > limit:
            raise TimeoutError("bench step did not finish")
        time.sleep(0.2)
    return time.perf_counter() - t0


def _ctl(url: str, action: str, body: dict[str, Any] | None = None) -> Any:
    return httpx.post(f"{url}/_ctl/{action}", json=body or {}, timeout=300).json()


def _runner(mode: str, runner_id: str, setup_rate: float, before: bool = False) -> Child:
    return Child([sys.executable, "-m", "bench.bots_10k_parts", "runner", "--mode", mode, "--runner-id", runner_id,
                  "--setup-rate", str(setup_rate), *(["--before"] if before else [])])


def _idle_cpu(children: list[Child], seconds: float) -> list[float]:
    before = [c.cpu() for c in children]
    time.sleep(seconds)
    return [(c.cpu() - b) / seconds for c, b in zip(children, before, strict=True)]


def webhook(args: argparse.Namespace, fake_url: str, bots: list[Any], out: list[str]) -> None:

    port = _free_port()
    web = Child([sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1",
                 "--port", str(port), "--no-log", "bench.bots_10k_parts:webhook_app"], env={"BENCH_WEBHOOK_APP": "1"})
    web_url = f"http://127.0.0.1:{port}"
    _wait(lambda: _up(web_url), 120)
    n = len(bots)
    runner = _runner("webhook", "bench-webhook-1", args.setup_rate)
    first = _wait(lambda: runner.latest.get("running", 0) >= n, 3600)
    calls_first = _ctl(fake_url, "setup_calls")
    time.sleep(3)
    rss = runner.rss()
    idle_runner, idle_web = _idle_cpu([runner, web], args.idle)
    warm = []
    if args.warmup > 0:  # every side's connections open (load generator, web worker, runner, fake): not counted
        warm_posted, _ = asyncio.run(post_load(web_url, bots, args.rate, args.warmup, first=WARMUP_IDS))
        time.sleep(1)
        warm = [f"  the warm-up before it ({args.warmup:.0f} s at the same rate, not counted above): reply overhead "
                f"{pcts(overheads_of(fake_url, warm_posted)[0])}"]
    cpu0, web0, load0 = runner.cpu(), web.cpu(), os.getloadavg()[0]
    posted, refused = asyncio.run(post_load(web_url, bots, args.rate, args.seconds))
    time.sleep(3)
    cpu1, web1, load1 = runner.cpu(), web.cpu(), os.getloadavg()[0]
    overheads, answered, duplicated = overheads_of(fake_url, posted)
    rss_load = runner.rss()
    runner.stop()  # flushes its stage marks
    stages = []
    if os.environ.get("BENCH_STAGES"):
        from bench.webhook_stages import report

        sends = {int(chat): times for chat, times in _ctl(fake_url, "sends").items()}
        stages = report(os.environ["BENCH_STAGES"], posted, sends)
    _ctl(fake_url, "forget_calls")
    web_response = pcts(RESPONSE_MS)  # the POSTs of this load (a second load starts the list again)
    restarted = _runner("webhook", "bench-webhook-2", args.setup_rate, args.compare_before)
    again = _wait(lambda: restarted.latest.get("running", 0) >= n, 3600)
    calls_again = _ctl(fake_url, "setup_calls")
    compared = _compare_before(args, fake_url, web_url, bots, restarted) if args.compare_before else []
    restarted.stop()
    web_rss = web.rss()
    web.stop()
    per_answer = lambda before, after: (after - before) / max(1, answered) * 1000  # noqa: E731
    out += [
        f"webhook mode: {n} bots, one runner process, one web worker (webhook route alone, Granian), set-up paced "
        f"at {args.setup_rate:.0f}/s",
        f"  first start (every bot getMe + setWebhook): {first:.1f} s; set-up calls {calls_first} "
        f"(at the default 20/s the setWebhooks alone would take {n / 20:.0f} s)",
        f"  restart (set-up recorded): {again:.1f} s to every bot running; set-up calls {calls_again}",
        f"  runner RSS {rss / 2**20:.0f} MB with {n} bots (target <= 600 MB), {rss / n / 1024:.1f} KB per bot "
        f"(whole process); after the load {rss_load / 2**20:.0f} MB; web worker RSS {web_rss / 2**20:.0f} MB",
        f"  idle CPU over {args.idle:.0f} s: runner {idle_runner * 100:.1f}% of a core, web worker "
        f"{idle_web * 100:.1f}%",
        f"  load {args.rate:.0f} msg/s for {args.seconds:.0f} s: {answered}/{len(posted)} answered, {duplicated} "
        f"answered twice, {refused} POSTs refused; CPU per answer: runner {per_answer(cpu0, cpu1):.1f} ms, "
        f"web worker {per_answer(web0, web1):.1f} ms; load average {load0:.1f} -> {load1:.1f}",
        f"  reply overhead (POST to the webhook -> sendMessage at the fake): {pcts(overheads)} "
        f"(target p99 <= 50 ms); of which the web worker answering the POST: {web_response}",
        *warm,
        *stages,
        *compared,
    ]


def _compare_before(args: argparse.Namespace, fake_url: str, web_url: str, bots: list[Any], runner: Child
                    ) -> list[str]:
    """The same load again on the restarted runner, its charges taking turns on the owner's account as before
    (one statement at a time, first come first served; chatai/bots/admission.py): both in one run."""
    time.sleep(3)
    cpu0, load0 = runner.cpu(), os.getloadavg()[0]
    posted, _ = asyncio.run(post_load(web_url, bots, args.rate, args.seconds, first=COMPARE_IDS))
    time.sleep(3)
    overheads, answered, duplicated = overheads_of(fake_url, posted)
    cpu = (runner.cpu() - cpu0) / max(1, answered) * 1000
    lines = [f"  the same load, charges one at a time as before (restarted runner): {answered}/{len(posted)} "
             f"answered, {duplicated} twice, runner CPU {cpu:.1f} ms per answer; load average {load0:.1f} -> "
             f"{os.getloadavg()[0]:.1f}",
             f"  reply overhead: {pcts(overheads)}; the web worker answering the POST: {pcts(RESPONSE_MS)}"]
    if os.environ.get("BENCH_STAGES"):
        from bench.webhook_stages import report

        runner.stop()  # flushes its stage marks
        sends = {int(chat): times for chat, times in _ctl(fake_url, "sends").items()}
        lines += report(os.environ["BENCH_STAGES"], posted, sends)
    return lines


def polling(args: argparse.Namespace, fake_url: str, bots: list[Any], out: list[str]) -> None:
    from chatai.bots.ownership import preferred_runner

    n = len(bots)
    tokens = [token for _, token, _ in bots]
    _ctl(fake_url, "forget_calls")
    one = _runner("polling", "bench-poll-a", args.setup_rate)
    try:
        first = f"start {_wait(lambda: one.latest.get('running', 0) >= n and _ctl(fake_url, 'stats')['waiting_pollers'] >= n * 0.95, POLLING_LIMIT):.1f} s"  # noqa: E501
    except TimeoutError:  # what one runner holds is the finding then
        first = f"only {one.latest.get('running', 0)} of {n} bots up after {POLLING_LIMIT} s"
    calls_first = _ctl(fake_url, "setup_calls")
    time.sleep(3)
    rss_one = one.rss()
    (idle_one,) = _idle_cpu([one], args.idle)
    overheads_one, sent_one, cpu_one = _polling_load(args, fake_url, tokens, [one])

    _ctl(fake_url, "forget_calls")
    two = _runner("polling", "bench-poll-b", args.setup_rate)
    share_b = sum(1 for bot_id, _, _ in bots if preferred_runner(bot_id, ["bench-poll-a", "bench-poll-b"])
                  == "bench-poll-b")
    moved = _wait(lambda: two.latest.get("running", 0) >= share_b and one.latest.get("workers", n) <= n - share_b,
                  POLLING_LIMIT)
    calls_moved = _ctl(fake_url, "setup_calls")
    time.sleep(3)
    rss_a, rss_b = one.rss(), two.rss()
    idle_a, idle_b = _idle_cpu([one, two], args.idle)
    overheads_two, sent_two, cpu_two = _polling_load(args, fake_url, tokens, [one, two])
    one.stop()
    two.stop()
    out += [
        f"polling: {n} bots (long poll 25 s), fake Bot API in its own process",
        f"  one runner: {first} (set-up calls {calls_first}); RSS {rss_one / 2**20:.0f} MB "
        f"({rss_one / n / 1024:.1f} KB per bot); idle CPU {idle_one * 100:.1f}% of a core",
        f"    load {args.rate:.0f} msg/s: {sent_one} answered, runner CPU {cpu_one:.1f} ms per answer, "
        f"overhead {pcts(overheads_one)}",
        f"  a second runner joins: its share ({share_b} bots) handed over in waves in {moved:.1f} s with set-up "
        f"calls {calls_moved}",
        f"    RSS {rss_a / 2**20:.0f} MB + {rss_b / 2**20:.0f} MB; idle CPU {idle_a * 100:.1f}% + "
        f"{idle_b * 100:.1f}% of a core",
        f"    load {args.rate:.0f} msg/s: {sent_two} answered, runners' CPU {cpu_two:.1f} ms per answer, "
        f"overhead {pcts(overheads_two)}",
    ]


def failover(args: argparse.Namespace, fake_url: str, bots: list[Any], out: list[str]) -> None:
    """Two webhook runners share the bots; one is SIGKILLed a third into the load. Every update the web worker
    stored must be answered, once, by the survivor, which takes the dead runner's bots with no set-up call."""
    port = _free_port()
    web = Child([sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1",
                 "--port", str(port), "--no-log", "bench.bots_10k_parts:webhook_app"], env={"BENCH_WEBHOOK_APP": "1"})
    web_url = f"http://127.0.0.1:{port}"
    _wait(lambda: _up(web_url), 120)
    n = len(bots)
    a = _runner("webhook", "bench-fail-a", args.setup_rate)
    _wait(lambda: a.latest.get("running", 0) >= n, 3600)
    b = _runner("webhook", "bench-fail-b", args.setup_rate)
    shared = _wait(lambda: b.latest.get("running", 0) > 0 and a.latest.get("workers", 0) + b.latest.get("workers", 0)
                   == n and b.latest.get("workers", 0) >= n * 0.4, 3600)
    held_a = a.latest.get("workers", 0)
    _ctl(fake_url, "forget_calls")

    async def load_and_kill() -> tuple[dict[int, float], int, float]:
        async def kill() -> float:
            await asyncio.sleep(args.seconds / 3)
            a.proc.kill()  # SIGKILL: no lease released, nothing flushed
            return time.monotonic()

        killer = asyncio.create_task(kill())
        posted, refused = await post_load(web_url, bots, args.rate, args.seconds, first=FAILOVER_IDS)
        return posted, refused, await killer

    holds_all: list[float] = []

    def watch() -> None:
        _wait(lambda: b.latest.get("workers", 0) >= n and b.latest.get("running", 0) >= n, 3600)
        holds_all.append(time.monotonic())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    posted, refused, killed_at = asyncio.run(load_and_kill())
    watcher.join()
    took_over = holds_all[0] - killed_at
    with contextlib.suppress(TimeoutError):  # what is still unanswered then is reported as such
        _wait(lambda: overheads_of(fake_url, posted)[1] >= len(posted), 300)
    overheads, answered, duplicated = overheads_of(fake_url, posted)
    calls = _ctl(fake_url, "setup_calls")
    b.stop()
    web.stop()
    out += [
        f"failover (webhook): runner a held {held_a} of {n} bots, b the rest (split in {shared:.0f} s); a SIGKILLed "
        f"{args.seconds / 3:.0f} s into {args.rate:.0f} msg/s for {args.seconds:.0f} s",
        f"  answered {answered}/{len(posted)} stored updates, {duplicated} twice, {refused} POSTs refused; b held "
        f"every bot {took_over:.0f} s after the kill (lease 15 s); set-up calls after the kill "
        f"{calls}",
        f"  reply overhead over the whole load (the dead runner's bots wait for the takeover): {pcts(overheads)}",
    ]


def _polling_load(args: argparse.Namespace, fake_url: str, tokens: list[str], runners: list[Child]
                  ) -> tuple[list[float], int, float]:
    _ctl(fake_url, "reset")
    cpu0 = sum(r.cpu() for r in runners)
    _ctl(fake_url, "load", {"tokens": tokens, "rate": args.rate, "seconds": args.seconds})
    time.sleep(args.seconds + 3)
    cpu1 = sum(r.cpu() for r in runners)
    stats = _ctl(fake_url, "stats")
    return ([o * 1000 for o in stats["overheads"]], stats["sent"],
            (cpu1 - cpu0) / max(1, stats["sent"]) * 1000)


def _run(coro: Any) -> Any:
    """asyncio.run with fresh database engines and Redis clients (they belong to the loop that made them)."""
    from chatai.cache import reset_redis
    from chatai.db.session import reset_engines

    reset_engines()
    reset_redis()
    return asyncio.run(coro)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _up(url: str) -> bool:
    try:
        return httpx.post(f"{url}/telegram/webhook/x", timeout=2).status_code == 403
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=10_000)
    parser.add_argument("--owners", type=int, default=1,
                        help="owners the bots are spread over, each with its own balance (1: one owner's worst case, "
                             "every answer charging the same row; the paging part wants 1)")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="webhook part: seconds of the same load before the measured one, reported apart")
    parser.add_argument("--setup-rate", type=float, default=500.0)
    parser.add_argument("--only", default="webhook,polling,failover,paging")
    parser.add_argument("--compare-before", action="store_true",
                        help="webhook part: the load again with charges taking turns as before (one at a time)")
    parser.add_argument("--stages", action="store_true",
                        help="webhook part: time from the POST to each stage of the path (bench/webhook_stages.py)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    os.environ["LOG_LEVEL"] = "WARNING"
    fake = Child([sys.executable, "-m", "bench.bots_10k_parts", "fake", "--port", "0"])
    _wait(lambda: fake.first_line.isdigit(), 60)
    fake_url = f"http://127.0.0.1:{fake.first_line}"
    os.environ["TELEGRAM_API_URL"] = fake_url
    os.environ["PUBLIC_URL"] = "https://bench.example.com"
    os.environ["RUN_BOTS_IN_WEB"] = "false"
    import tempfile

    Child.log_path = os.path.join(tempfile.mkdtemp(prefix="bots_10k-"), "children.log")
    if args.stages:
        os.environ["BENCH_STAGES"] = tempfile.mkdtemp(prefix="bots_10k-stages-")
    out: list[str] = [f"bots_10k on {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}"]
    try:
        with bench_database("bots_10k", migrate=False):
            subprocess.run([sys.executable, "-m", "chatai", "db", "upgrade"], check=True, capture_output=True)
            from chatai.cache import get_redis

            async def fresh_redis() -> None:
                redis = get_redis()
                keys = [k async for k in redis.scan_iter("chatai:*")]
                if keys:
                    await redis.delete(*keys)

            _run(fresh_redis())
            from bench.bots_10k_parts import create_bots

            bots = _run(create_bots(args.bots, mode="webhook", owners=args.owners))
            _ctl(fake_url, "add_bots", {"bots": [[token, f"tenk{i}_bot"] for i, (_, token, _) in enumerate(bots)]})
            for name, part in (("webhook", webhook), ("polling", polling), ("failover", failover)):
                if name in parts:
                    try:
                        part(args, fake_url, bots, out)
                    except TimeoutError:
                        out.append(f"{name}: a step did not finish within its limit (see {Child.log_path})")
                    print("\n".join(out), flush=True)
            if "paging" in parts:
                from bench.bots_10k_paging import paging, time_cli_list

                _run(paging(out))
                time_cli_list(out)
    finally:
        for child in reversed(Child.started):
            child.stop()
    pool_timeouts = 0
    if os.path.exists(Child.log_path):  # none when no child started after the fake (--only paging)
        with open(Child.log_path) as log:
            pool_timeouts = sum(1 for line in log if line.startswith("sqlalchemy.exc.TimeoutError"))
    out.append(f"database pool timeouts logged by the children: {pool_timeouts} (log: {Child.log_path})")
    print("\n".join(out))


if __name__ == "__main__":
    main()
