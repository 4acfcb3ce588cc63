"""Sign-in floods against a bot's answers in the same process (issue 19): idle vs flood, in one run.

    .venv/bin/python -m bench.signin_flood [--bots 5] [--rate 10] [--seconds 8] [--rounds 3] [--wave 100] [--before]

One process holds a bot runner (as the web worker does with RUN_BOTS_IN_WEB) and takes sign-ins through
services/accounts.sign_in, on a throwaway database `bench_signin_flood` and Redis db 15. The fake Bot API
runs in its own process (tests/fakes/telegram_server.py) and pushes `--rate` customer messages a second;
the answer function is instant (bench.bots_scale), so what is measured is the worker's own latency: update
handed out by the fake -> its sendMessage arriving back (both on the fake's clock).

Phases, each `--seconds` long, in one run (idle and flood alternate `--rounds` times, their answers pooled):
- idle: the messages only;
- flood: the same messages while waves of `--wave` concurrent bad sign-ins (each wave from new client
  addresses, unknown emails: every attempt passes the limits and wants a check) follow one another;
- before (`--before`, opt-in): the same flood with each check run on the event loop, as before issue 19
  (the limits and the pool's bound still apply: only where the check runs differs).
Printed: answer p50/p95 per phase, the flood's p95 as a ratio of idle's, the sign-in attempts, how many
password checks ran and how many were refused (busy pool, limits). Then the limits under concurrency: 100
concurrent bad sign-ins at one account from one client, and from one client across 100 emails, with the
number of checks each caused (at most the limit; the pool's waiting line is made long enough for all 100
there, so that only the limits refuse).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from bench.bots_scale import _actl, _create_bots, _ctl, _start_fake, instant_answer
from bench.common import bench_database, percentile

OWNER = "owner@example.com"


async def _attempt(email: str, password: str, client: str) -> str:
    from chatai.db.session import async_session
    from chatai.services import accounts

    async with async_session() as s:
        try:
            await accounts.sign_in(s, email=email, password=password, client=client)
        except accounts.AccountError as exc:
            return exc.code
    return "signed_in"


async def _flood(stop: asyncio.Event, wave: int, tally: Counter) -> None:
    """Waves of `wave` concurrent bad sign-ins, each from fresh addresses, until stopped."""
    n = 0
    while not stop.is_set():
        results = await asyncio.gather(*[_attempt(f"u{n}-{i}@example.com", "not the password",
                                                  f"10.{n // 250 % 250}.{n % 250}.{i % 250}")
                                         for i in range(wave)])
        tally.update(results)
        n += 1


async def _phase(fake_url: str, tokens: list[str], args: argparse.Namespace, wave: int) -> dict[str, Any]:
    from chatai.services import password_work

    await _actl(fake_url, "reset")
    checks0, refused0 = password_work.stats().checks, password_work.stats().refused
    stop, tally = asyncio.Event(), Counter()
    flood = asyncio.create_task(_flood(stop, wave, tally)) if wave else None
    await _actl(fake_url, "load", {"tokens": tokens, "rate": args.rate, "seconds": args.seconds})
    await asyncio.sleep(args.seconds + 2)  # the last messages' answers
    stop.set()
    if flood is not None:
        await flood
    overheads = [o * 1000 for o in (await _actl(fake_url, "stats"))["overheads"]]
    return {"overheads": overheads, "tally": tally, "checks": password_work.stats().checks - checks0,
            "busy": password_work.stats().refused - refused0}


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    overheads = [o for part in parts for o in part["overheads"]]
    return {"answers": len(overheads), "p50": percentile(overheads, 50) if overheads else float("nan"),
            "p95": percentile(overheads, 95) if overheads else float("nan"),
            "tally": sum((part["tally"] for part in parts), Counter()),
            "checks": sum(part["checks"] for part in parts), "busy": sum(part["busy"] for part in parts)}


class _ChecksOnTheLoop:
    """Before issue 19: the check ran in the coroutine itself, holding the event loop (the seat is still
    taken, so the pool's bound applies as in the flood phase: only where the check runs differs)."""

    def __enter__(self) -> None:
        from chatai.services import password_work

        self._run = password_work.Seat.run

        async def inline(seat: password_work.Seat, kind: str, fn: Any, *args: Any) -> Any:
            with seat.pool._lock:
                seat.pool._counts[kind] += 1
            return fn(*args)

        password_work.Seat.run = inline  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        from chatai.services import password_work

        password_work.Seat.run = self._run  # type: ignore[method-assign]


async def _limits_under_concurrency() -> list[tuple[str, Counter, int]]:
    """With a waiting line long enough for all 100, so that the limits, not the pool, do the refusing."""
    from chatai.services import password_work
    from chatai.settings import get_settings

    get_settings().password_check_queue = 200
    password_work.reset_pool()
    rows = []
    for label, calls in (
        ("100 at one account, one client", [_attempt(OWNER, f"guess {i}", "192.0.2.1") for i in range(100)]),
        ("100 emails, one client", [_attempt(f"victim{i}@example.com", "guess", "192.0.2.2") for i in range(100)]),
    ):
        checks0 = password_work.stats().checks
        results = Counter(await asyncio.gather(*calls))
        rows.append((label, results, password_work.stats().checks - checks0))
    return rows


async def run(args: argparse.Namespace, fake_url: str) -> dict[str, Any]:
    from chatai.bots.runner import BotRunner
    from chatai.cache import get_redis
    from chatai.db.session import async_session
    from chatai.services import accounts, password_work

    await get_redis().flushdb()
    async with async_session() as s:
        await accounts.create_user(s, email=OWNER, password="correct horse battery")
    tokens = await _create_bots(args.bots)
    _ctl(fake_url, "add_bots", {"bots": [[t, f"bench{i}_bot"] for i, t in enumerate(tokens)]})
    runner = BotRunner(answer_fn=instant_answer, poll_timeout=25)
    await runner.start()
    for _ in range(600):  # every bot polling (at most a minute)
        if (await _actl(fake_url, "stats"))["waiting_pollers"] >= args.bots:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    load0 = os.getloadavg()[0]
    # Idle and flood alternate, `--rounds` times: a burst of other work on a shared machine then falls on
    # both sides of the ratio, not on one phase.
    parts: dict[str, list[dict[str, Any]]] = {"idle": [], "flood": []}
    for _ in range(args.rounds):
        for name, wave in (("idle", 0), ("flood", args.wave)):
            await get_redis().flushdb()
            parts[name].append(await _phase(fake_url, tokens, args, wave))
    if args.before:
        await get_redis().flushdb()
        with _ChecksOnTheLoop():
            parts["before"] = [await _phase(fake_url, tokens, args, args.wave)]
    phases = {name: _merge(runs) for name, runs in parts.items()}
    pool = password_work.pool()
    await get_redis().flushdb()
    limits = await _limits_under_concurrency()
    await runner.stop()
    return {"phases": phases, "limits": limits, "load": (load0, os.getloadavg()[0]),
            "pool": (pool.workers, pool.capacity - pool.workers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=5)
    parser.add_argument("--rate", type=float, default=10.0, help="customer messages per second, all phases")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="idle and flood phases, alternating")
    parser.add_argument("--wave", type=int, default=100, help="concurrent bad sign-ins per wave")
    parser.add_argument("--before", action="store_true", help="also run the flood with checks on the loop")
    args = parser.parse_args()

    os.environ["LOG_LEVEL"] = "WARNING"
    fake, fake_url = _start_fake()
    os.environ["TELEGRAM_API_URL"] = fake_url
    started = time.perf_counter()
    try:
        with bench_database("signin_flood", migrate=False):
            subprocess.run([sys.executable, "-m", "chatai", "db", "upgrade"], check=True, capture_output=True)
            import logging

            logging.basicConfig(level=logging.WARNING)
            result = asyncio.run(run(args, fake_url))
    finally:
        fake.terminate()
    workers, queue = result["pool"]
    print(f"signin_flood: {args.bots} bots, {args.rate:.0f} msg/s, {args.rounds} x {args.seconds:.0f} s idle and "
          f"flood, waves of "
          f"{args.wave} bad sign-ins; password pool {workers} threads + {queue} waiting; load average "
          f"{result['load'][0]:.1f} -> {result['load'][1]:.1f}; {time.perf_counter() - started:.0f} s in all")
    idle = result["phases"]["idle"]
    for name, phase in result["phases"].items():
        tally = phase["tally"]
        attempts = sum(tally.values())
        line = (f"  {name:6} answers {phase['answers']:4}  p50 {phase['p50']:7.1f} ms  p95 {phase['p95']:7.1f} ms"
                f"  p95 / idle {phase['p95'] / idle['p95']:5.2f}x")
        if attempts:
            line += (f"  | {attempts} sign-ins: {phase['checks']} checks ran, {tally['password_checks_busy']} "
                     f"refused busy, {tally['rate_limited']} refused by limits, {tally['signed_in']} signed in")
        print(line)
    for label, results, checks in result["limits"]:
        print(f"  limits: {label}: {checks} checks ran; {dict(results)}")


if __name__ == "__main__":
    main()
