"""1,000 Telegram bots in one runner process: startup, memory per bot, idle CPU, reply overhead.

    .venv/bin/python -m bench.bots_scale [--bots 1000] [--rate 100] [--seconds 30] [--idle 20] [--contend CORES]

`--contend 1.5` runs the load a second time beside a CPU hog of 1.5 cores (bench/cpu_hog.py), as on a machine
shared with another job, and reports both in the same run: answered in the window and once the load passed
(exactly once: duplicates counted by the fake), reply overhead p99, runner CPU per answer, the runner's pool
timeouts and other warnings, and how often an answer step waited for database admission (bots/admission.py).

Set-up: a throwaway database `bench_bots` on the embedded PostgreSQL (bench.common), Redis db 15.
The fake Bot API runs in a SEPARATE process (tests/fakes/telegram_server.py), so its CPU and memory
are not charged to the runner; the answer function is an instant fake (no model, no retrieval).
Reply overhead = time from the fake handing an update out in a getUpdates response to the
sendMessage for it arriving back at the fake (both stamped with the fake's monotonic clock): it
includes the loopback hops, parsing, both database transactions (persist before answering, save the
reply) and the throttle, so it is an upper bound on "update received to sendMessage issued".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil

from bench.common import bench_database, percentile


@dataclass
class InstantAnswer:
    text: str
    sources: list[Any] = field(default_factory=list)
    answered_by: str = "llm"
    needs_handoff: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = "fake"


async def instant_answer(*, assistant_id: uuid.UUID, question: str, history: Any = (),
                         language: str | None = None) -> InstantAnswer:
    return InstantAnswer(f"Answer: {question}", [{"document": "faq.md", "section": "Bench", "score": 1.0,
                                                  "text": ""}])


_client: httpx.Client | None = None


def _ctl(url: str, action: str, body: dict[str, Any] | None = None) -> Any:
    """The fake's control API (loopback only). Blocking: call it through `_actl` while the runner runs."""
    global _client
    if _client is None:
        _client = httpx.Client(timeout=120)
    return _client.post(f"{url}/_ctl/{action}", json=body or {}).json()


async def _actl(url: str, action: str, body: dict[str, Any] | None = None) -> Any:
    """Off the event loop, so the bench's own calls never delay the runner it measures."""
    return await asyncio.to_thread(_ctl, url, action, body)


def _start_fake() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.counting_fake", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip())  # type: ignore[union-attr]
    return proc, f"http://127.0.0.1:{port}"


async def _create_bots(n: int) -> list[str]:
    import sqlalchemy as sa

    from bench.common import make_assistant
    from chatai.db.models import Assistant, Bot
    from chatai.db.session import async_session
    from chatai.security import encrypt_secret, mask_secret
    from tests.fakes.telegram_server import make_token

    assistant_id = await make_assistant(greeting="hi")
    tokens = [make_token(10_000_000 + i) for i in range(n)]
    async with async_session() as s:
        owner_id = (await s.get(Assistant, assistant_id)).owner_id
        rows = [dict(id=uuid.uuid4(), assistant_id=assistant_id, owner_id=owner_id, telegram_bot_id=10_000_000 + i,
                     username=f"bench{i}_bot", token_encrypted=encrypt_secret(t), token_hint=mask_secret(t),
                     mode="polling", webhook_secret=uuid.uuid4().hex, desired_state="running", status="starting",
                     last_error="", runner_id="")
                for i, t in enumerate(tokens)]
        await s.execute(sa.insert(Bot), rows)
        await s.commit()
    return tokens


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _start_profiler(path: str, seconds: float) -> subprocess.Popen:
    """py-spy on this process for the load window only (`pip install py-spy` into the venv)."""
    return subprocess.Popen(["py-spy", "record", "--nonblocking", "-r", "100", "-f", "raw", "-o", path, "--pid",
                             str(os.getpid()), "--duration", str(int(seconds))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class _StallTracer:
    """Which event-loop steps run longest (every asyncio Handle timed), and how long full garbage collections
    take: tells a stall from the runner's own work apart from waiting for a core (--stalls)."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold = threshold_ms / 1000
        self.steps: dict[str, list[tuple[float, float]]] = {}  # (wall, CPU of this thread)
        self.gc_pauses: list[tuple[float, float]] = []
        self.gc_collected = 0
        self._orig: Any = None
        self._gc_t0 = (0.0, 0.0)

    @staticmethod
    def _name(callback: Any) -> str:
        task = getattr(callback, "__self__", None)
        if isinstance(task, asyncio.Task):
            name = task.get_name()
            if name.startswith("bot-"):
                return "bot poll loop"
            coro = task.get_coro()
            return f"{name if name.startswith('runner-') else 'task'}: {getattr(coro, '__qualname__', coro)}"
        return getattr(callback, "__qualname__", type(callback).__name__)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_t0 = (time.perf_counter(), time.thread_time())
        else:
            self.gc_pauses.append((time.perf_counter() - self._gc_t0[0], time.thread_time() - self._gc_t0[1]))
            self.gc_collected += info.get("collected", 0)

    def __enter__(self) -> _StallTracer:
        import gc
        from asyncio import events

        orig = self._orig = events.Handle._run
        threshold, steps, name = self.threshold, self.steps, self._name

        def timed(handle: Any) -> None:
            t, c = time.perf_counter(), time.thread_time()
            orig(handle)
            took = time.perf_counter() - t
            if took >= threshold:
                steps.setdefault(name(handle._callback), []).append((took, time.thread_time() - c))

        events.Handle._run = timed  # type: ignore[method-assign]
        gc.callbacks.append(self._gc)
        return self

    def __exit__(self, *exc: object) -> None:
        import gc
        from asyncio import events

        events.Handle._run = self._orig  # type: ignore[method-assign]
        gc.callbacks.remove(self._gc)

    def report(self) -> list[str]:
        """Wall time includes waiting for a core; CPU time is the runner's own work."""
        def line(what: str, v: list[tuple[float, float]]) -> str:
            return (f"{len(v):5d} x, wall max {max(w for w, _ in v) * 1000:6.1f} ms, CPU max "
                    f"{max(c for _, c in v) * 1000:6.1f} ms, CPU total {sum(c for _, c in v) * 1000:7.1f} ms  {what}")

        lines = [line(k, v) for k, v in sorted(self.steps.items(), key=lambda kv: -max(c for _, c in kv[1]))]
        if self.gc_pauses:
            lines.append(line(f"full GC ({self.gc_collected} unreachable objects freed)", self.gc_pauses))
        return lines


async def _loop_lag(seconds: float, tick: float = 0.01) -> list[float]:
    """How late a 10 ms timer fires, sampled for `seconds`: the event loop's stalls (CPU-bound stretches,
    or the process waiting for a core on a busy machine)."""
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await asyncio.sleep(tick)
        lags.append(time.perf_counter() - t - tick)
    return lags


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class _LogCounter(logging.Handler):
    """Counts the runner's warnings by kind during a load phase (pool timeouts, unanswered, unexpected)."""

    KINDS = {"pool_timeouts": "QueuePool limit", "not_answered": "not answered yet",
             "unexpected": "unexpected error", "not_stored": "not stored"}

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts = dict.fromkeys(self.KINDS, 0)

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]}"
        for kind, needle in self.KINDS.items():
            if needle in text:
                self.counts[kind] += 1


async def _lock_waits(samples: list[int]) -> None:
    """Every second: how many of the database's backends wait on a lock (a hot row), until cancelled."""
    import sqlalchemy as sa

    from chatai.db.session import async_session

    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND wait_event_type = 'Lock'")
    while True:
        async with async_session() as session:
            samples.append(int((await session.execute(query)).scalar() or 0))
        await asyncio.sleep(1.0)


async def _load_phase(args: argparse.Namespace, runner: Any, fake_url: str, fake_pid: int, tokens: list[str], *,
                      contend: float, profile: bool, stalls: float | None) -> dict[str, Any]:
    """One load window (`args.rate` msg/s for `args.seconds`), with `contend` cores of CPU hog beside it, then
    up to `args.drain` seconds for the rest to be answered: answered in the window and in all, duplicates, reply
    overhead, runner CPU per answer, the runner's warnings, admission."""
    from bench import cpu_hog

    me = psutil.Process()
    await _actl(fake_url, "reset")
    hog = cpu_hog.start(contend)
    counter = _LogCounter()
    logging.getLogger().addHandler(counter)
    admission0 = runner.admission.stats()
    lock_samples: list[int] = []
    locks = asyncio.create_task(_lock_waits(lock_samples))
    try:
        await asyncio.sleep(1.0 if hog else 0)  # the hog at full speed before the load starts
        fake = psutil.Process(fake_pid)
        fake0 = _cpu(fake)
        load_avg0 = os.getloadavg()[0]
        cpu0 = me.cpu_times()
        w0 = time.perf_counter()
        profiler = _start_profiler(args.profile_load, args.seconds) if profile else None
        tracer = _StallTracer(stalls) if stalls else contextlib.nullcontext()
        with tracer:
            lag = asyncio.create_task(_loop_lag(args.seconds + 2))
            await _actl(fake_url, "load", {"tokens": tokens, "rate": args.rate, "seconds": args.seconds})
            expected = int(args.rate * args.seconds)
            await asyncio.sleep(args.seconds + 2)  # no polling of the fake during the load: it would cost CPU here
            lags = await lag
        in_window = await _actl(fake_url, "answers")
        load_wall = time.perf_counter() - w0
        cpu1 = me.cpu_times()
        load_avg1 = os.getloadavg()[0]
        drain_end = time.perf_counter() + args.drain
        answers = in_window
        while answers["answered"] < expected and time.perf_counter() < drain_end:
            await asyncio.sleep(1.0)
            answers = await _actl(fake_url, "answers")
        await asyncio.sleep(runner.reconcile_interval + 1)  # a late duplicate (recovery sweep) would show by now
        answers = await _actl(fake_url, "answers")
        total_wall = time.perf_counter() - w0
        cpu2 = me.cpu_times()
        stats = await _actl(fake_url, "stats")
        fake_cpu = (_cpu(fake) - fake0) / total_wall
        if profiler is not None:
            await asyncio.to_thread(profiler.wait)
    finally:
        locks.cancel()
        logging.getLogger().removeHandler(counter)
        cpu_hog.stop(hog)
    load_cpu = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / load_wall
    all_cpu = (cpu2.user + cpu2.system) - (cpu0.user + cpu0.system)
    overheads_ms = [o * 1000 for o in stats["overheads"]]
    admission1 = runner.admission.stats()
    return {
        "contend": contend, "expected": expected, "sent": in_window["sent"], "answered_window": in_window["answered"],
        "answered": answers["answered"], "duplicated": answers["duplicated"], "drain_s": total_wall - load_wall,
        "load_cpu": load_cpu, "fake_cpu": fake_cpu, "load_avg": (load_avg0, load_avg1), "conflicts": stats["conflicts"],
        "per_msg_ms": all_cpu / max(1, answers["sent"]) * 1000, "rss_load": me.memory_info().rss,
        "p50": percentile(overheads_ms, 50) if overheads_ms else float("nan"),
        "p95": percentile(overheads_ms, 95) if overheads_ms else float("nan"),
        "p99": percentile(overheads_ms, 99) if overheads_ms else float("nan"),
        "max": max(overheads_ms) if overheads_ms else float("nan"),
        "lag_max_ms": max(lags) * 1000, "lag_over_50": sum(1 for x in lags if x > 0.05),
        "stalls": tracer.report() if stalls else [], "warnings": counter.counts,
        "admission_queued": admission1["queued"] - admission0["queued"], "admission_peak_waiting":
            admission1["peak_waiting"], "admission_slots": admission1["slots"],
        "lock_waits_max": max(lock_samples, default=0),
        "lock_waits_mean": sum(lock_samples) / max(1, len(lock_samples)),
    }


async def run(args: argparse.Namespace, fake_url: str, fake_pid: int) -> dict[str, Any]:
    from chatai.cache import get_redis

    redis = get_redis()
    keys = [k async for k in redis.scan_iter("chatai:bots:*")]
    if keys:
        await redis.delete(*keys)
    tokens = await _create_bots(args.bots)
    _ctl(fake_url, "add_bots", {"bots": [[t, f"bench{i}_bot"] for i, t in enumerate(tokens)]})

    from chatai.bots.runner import BotRunner

    me = psutil.Process()
    rss_before = me.memory_info().rss
    runner = BotRunner(answer_fn=instant_answer, poll_timeout=args.poll_timeout)
    t0 = time.perf_counter()
    await runner.start()
    while True:
        stats = await _actl(fake_url, "stats")
        running = sum(1 for w in runner.workers.values() if w.status == "running")
        if running >= args.bots and stats["waiting_pollers"] >= args.bots:
            break
        if time.perf_counter() - t0 > 120:
            break
        await asyncio.sleep(0.1)
    startup = time.perf_counter() - t0
    await asyncio.sleep(3)
    rss_running = me.memory_info().rss

    await _actl(fake_url, "reset")
    cpu0 = me.cpu_times()
    w0 = time.perf_counter()
    await asyncio.sleep(args.idle)
    idle_calls = (await _actl(fake_url, "stats"))["methods"]
    cpu1 = me.cpu_times()
    idle_cpu = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / (time.perf_counter() - w0)

    import gc

    heap = (gc.get_freeze_count(), len(gc.get_objects(2)))  # what a full collection would walk
    phases = {"quiet": await _load_phase(args, runner, fake_url, fake_pid, tokens, contend=0.0,
                                         profile=bool(args.profile_load), stalls=args.stalls)}
    if args.contend:
        phases["contended"] = await _load_phase(args, runner, fake_url, fake_pid, tokens, contend=args.contend,
                                                profile=False, stalls=None)
    t1 = time.perf_counter()
    await runner.stop()
    stop_time = time.perf_counter() - t1
    return {
        "bots": args.bots, "startup_s": startup, "rss_before": rss_before, "rss_running": rss_running,
        "rss_load": phases["quiet"]["rss_load"], "per_bot_kb": (rss_running - rss_before) / args.bots / 1024,
        "idle_cpu": idle_cpu, "idle_calls": idle_calls, "heap": heap, "stop_s": stop_time, "phases": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second, spread over the bots")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration")
    parser.add_argument("--idle", type=float, default=20.0, help="idle CPU measurement window")
    parser.add_argument("--poll-timeout", type=int, default=25)
    parser.add_argument("--stalls", type=float, metavar="MS",
                        help="list event-loop steps longer than MS during the load, and full GC pauses")
    parser.add_argument("--profile-load", metavar="PATH", help="py-spy raw profile of the load window to PATH")
    parser.add_argument("--contend", type=float, default=0.0, metavar="CORES",
                        help="after the quiet load, the same load again beside a CPU hog of CORES cores")
    parser.add_argument("--drain", type=float, default=120.0,
                        help="seconds after a load window for the rest of its updates to be answered")
    args = parser.parse_args()

    os.environ["LOG_LEVEL"] = "WARNING"
    fake, fake_url = _start_fake()
    os.environ["TELEGRAM_API_URL"] = fake_url
    try:
        with bench_database("bots", migrate=False):
            # Migrations in a child process: alembic's imports would inflate this process's RSS.
            subprocess.run([sys.executable, "-m", "chatai", "db", "upgrade"], check=True, capture_output=True)
            logging.basicConfig(level=logging.WARNING)
            result = asyncio.run(run(args, fake_url, fake.pid))
        fake_proc = psutil.Process(fake.pid)
        fake_rss = fake_proc.memory_info().rss
    finally:
        fake.terminate()
        fake.wait(10)
    print(f"bots_scale: {result['bots']} bots in one runner process (fake Bot API in a separate process, "
          f"instant fake answers)")
    print(f"  startup (start() -> every bot long-polling): {result['startup_s']:.2f} s")
    print(f"  RSS before runner: {_mb(result['rss_before'])}; with {result['bots']} bots running: "
          f"{_mb(result['rss_running'])} (target <= 150 MB); after load: {_mb(result['rss_load'])}")
    print(f"  memory per bot: {result['per_bot_kb']:.1f} KB")
    print(f"  objects at load start: {result['heap'][0]} frozen, {result['heap'][1]} in the oldest GC generation")
    print(f"  idle CPU: {result['idle_cpu'] * 100:.1f}% of one core (poll timeout {args.poll_timeout} s; "
          f"Bot API calls in {args.idle:.0f} s idle: {result['idle_calls']})")
    for name, phase in result["phases"].items():
        _print_phase(name, phase, args)
    print(f"  clean stop of all bots: {result['stop_s']:.2f} s; fake server RSS {_mb(fake_rss)}")


def _print_phase(name: str, r: dict[str, Any], args: argparse.Namespace) -> None:
    beside = f", beside a CPU hog of {r['contend']:g} cores" if r["contend"] else ""
    print(f"  load ({name}{beside}): {args.rate:.0f} msg/s for {args.seconds:.0f} s: {r['answered_window']}/"
          f"{r['expected']} answered in the window, {r['answered']}/{r['expected']} in all "
          f"({r['drain_s']:.0f} s after it), {r['duplicated']} duplicated; runner CPU {r['load_cpu'] * 100:.1f}% "
          f"of one core in the window, {r['per_msg_ms']:.2f} ms per answer; 409 conflicts {r['conflicts']}")
    print(f"    beside it: fake Bot API {r['fake_cpu'] * 100:.1f}% of one core; machine load average "
          f"{r['load_avg'][0]:.2f} -> {r['load_avg'][1]:.2f} ({os.cpu_count()} cores)")
    print(f"    reply overhead (update handed out -> sendMessage received): p50 {r['p50']:.1f} ms, "
          f"p95 {r['p95']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms (target p99 <= 50 ms); "
          f"event-loop lag max {r['lag_max_ms']:.0f} ms, {r['lag_over_50']} ticks over 50 ms")
    w = r["warnings"]
    print(f"    runner warnings: pool timeouts {w['pool_timeouts']}, not answered yet {w['not_answered']}, "
          f"unexpected errors {w['unexpected']}, not stored {w['not_stored']}; database admission: "
          f"{r['admission_queued']} steps waited for one of {r['admission_slots']} slots, at most "
          f"{r['admission_peak_waiting']} waiting; database backends waiting on a lock (sampled each second): "
          f"mean {r['lock_waits_mean']:.1f}, max {r['lock_waits_max']}")
    for line in r["stalls"]:
        print(f"    stall: {line}")


if __name__ == "__main__":
    main()
