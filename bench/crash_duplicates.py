"""Duplicate answers per crash: a real bot runner process killed with SIGKILL in the middle of a burst.

    .venv/bin/python -m bench.crash_duplicates [--kills 20] [--burst 80] [--bots 8]

Set-up: a throwaway database `bench_crash_dups` (bench.common), the fake Bot API in this process (a thread;
it records every sendMessage), and the runner in a child process (`--child`: BotRunner with an instant fake
answer, short leases so a restarted runner takes the bots over in a few seconds). Each round pushes a burst
of messages (each to its own chat, spread over the bots, --rate per second: a burst of customers, not 80
updates in one getUpdates answer, which would put every send in flight at once and measure only those),
kills the runner with SIGKILL at a random instant of the burst, starts a new one and waits until every
message of the burst is answered and marked in the database. A duplicate is a second sendMessage for the
same update: only a send Telegram accepted in the instant before the kill, with its 'answered' mark not
committed yet, can cause one. A lost message (no answer at all) would be a bug.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.bots_scale import instant_answer
from bench.common import bench_database

ROOT = Path(__file__).resolve().parent.parent


def _chat(round_no: int, message: int) -> int:
    return 500_000 + round_no * 10_000 + message


# --- the runner process ---------------------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from chatai.bots.runner import BotRunner, run_forever

    runner = BotRunner(answer_fn=instant_answer, lease_ttl=args.lease_ttl, reconcile_interval=0.5, poll_timeout=5,
                       takeover_grace=args.lease_ttl)
    asyncio.run(run_forever(runner))


# --- the bench ------------------------------------------------------------------------------------------


async def _create_bots(n: int) -> list[str]:
    import sqlalchemy as sa

    from bench.common import make_assistant
    from chatai.db.models import Assistant, Bot
    from chatai.db.session import async_session
    from chatai.security import encrypt_secret, mask_secret
    from tests.fakes.telegram_server import make_token

    assistant_id = await make_assistant(greeting="hi")
    tokens = [make_token(20_000_000 + i) for i in range(n)]
    async with async_session() as s:
        owner_id = (await s.get(Assistant, assistant_id)).owner_id
        await s.execute(sa.insert(Bot), [
            dict(id=uuid.uuid4(), assistant_id=assistant_id, owner_id=owner_id, telegram_bot_id=20_000_000 + i,
                 username=f"crash{i}_bot", token_encrypted=encrypt_secret(t), token_hint=mask_secret(t),
                 mode="polling", webhook_secret="", desired_state="running",
                 status="starting", last_error="", runner_id="")
            for i, t in enumerate(tokens)])
        await s.commit()
    return tokens


async def _unanswered() -> int:
    import sqlalchemy as sa

    from chatai.db.session import async_session

    async with async_session() as s:
        return int((await s.execute(sa.text("SELECT count(*) FROM telegram_updates WHERE status = 'received'")))
                   .scalar_one())


class Bench:
    def __init__(self, args: argparse.Namespace, fake: Any, tokens: list[str], logs: Path) -> None:
        self.args = args
        self.fake = fake
        self.tokens = tokens
        self.logs = logs
        self.proc: subprocess.Popen | None = None
        self.started = 0
        self.offsets: dict[str, int] = {}

    def start_runner(self) -> None:
        self.started += 1
        log = open(self.logs / f"runner-{self.started}.log", "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.crash_duplicates", "--child", "--lease-ttl",
                                      str(self.args.lease_ttl)], cwd=ROOT, stdout=log, stderr=log)

    def kill_runner(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop_runner(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def sends(self, round_no: int) -> Counter:
        """sendMessage count per message of this round (each message has its own chat), over all bots, read
        straight from the fake's lists from where the round started. By chat, not by text: what the answer
        says (an answer, a notice) does not matter here."""
        counts: Counter = Counter()
        first = _chat(round_no, 0)
        for token in self.tokens:
            for sent in self.fake.bots[token].sent[self.offsets.get(token, 0):]:
                if first <= sent["chat_id"] < first + self.args.burst:
                    counts[sent["chat_id"] - first] += 1
        return counts

    def sent_in(self, round_no: int) -> int:
        return len(self.sends(round_no))

    def push_burst(self, round_no: int) -> None:
        """The round's messages at --rate per second, round-robin over the bots (a thread: evenly spaced)."""
        start = time.monotonic()
        for i in range(self.args.burst):
            delay = start + i / self.args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            token = self.tokens[i % len(self.tokens)]
            self.fake.push_text(token, f"question {i} of round {round_no}", chat_id=_chat(round_no, i))

    async def wait_polling(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Until every bot has a long poll waiting at the fake (the runner took them all over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.fake.bots[t].pollers > 0 for t in self.tokens):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the runner did not start polling every bot")

    async def one_round(self, round_no: int, rng: random.Random) -> dict[str, Any]:
        await self.wait_polling()
        burst = self.args.burst
        # At a random instant of the burst, not right after a send was seen: that instant (a send Telegram
        # accepted, its answer not back in the runner yet) would be over-sampled.
        kill_at = rng.uniform(0.1, 0.9) * burst / self.args.rate
        self.offsets = {token: len(self.fake.bots[token].sent) for token in self.tokens}
        pushing = asyncio.create_task(asyncio.to_thread(self.push_burst, round_no))
        await asyncio.sleep(kill_at)
        sent_at_kill = self.sent_in(round_no)
        self.kill_runner()
        self.start_runner()
        await pushing
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.sent_in(round_no) >= burst and await _unanswered() == 0:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # any late resend shows up
        sends = self.sends(round_no)
        counts = {i: sends.get(i, 0) for i in range(burst)}
        return {"sent_at_kill": sent_at_kill,
                "duplicates": sum(n - 1 for n in counts.values() if n > 1),
                "lost": sum(1 for n in counts.values() if n == 0)}


async def run(args: argparse.Namespace, fake: Any) -> list[dict[str, Any]]:
    from chatai.cache import get_redis

    redis = get_redis()
    keys = [k async for k in redis.scan_iter("chatai:bots:*")]
    if keys:
        await redis.delete(*keys)
    tokens = await _create_bots(args.bots)
    for i, token in enumerate(tokens):
        fake.add_bot(token, f"crash{i}_bot")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="crash-dups-") as logs:
        bench = Bench(args, fake, tokens, Path(logs))
        bench.start_runner()
        rounds = []
        try:
            for round_no in range(args.kills):
                result = await bench.one_round(round_no, rng)
                rounds.append(result)
                print(f"  kill {round_no + 1:2d}: killed after {result['sent_at_kill']:2d}/{args.burst} answers, "
                      f"duplicates {result['duplicates']}, lost {result['lost']}", flush=True)
        finally:
            bench.stop_runner()
            if args.keep_logs:
                _print_logs(Path(logs))
    return rounds


def _print_logs(folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        print(f"--- {path.name}\n{path.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--burst", type=int, default=80, help="messages per round, each to its own chat")
    parser.add_argument("--bots", type=int, default=8)
    parser.add_argument("--rate", type=float, default=40.0, help="messages per second within a burst")
    parser.add_argument("--lease-ttl", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-logs", action="store_true", help="print the tail of each runner's log")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from tests.fakes.telegram_server import FakeTelegram

    os.environ["LOG_LEVEL"] = "WARNING"
    fake = FakeTelegram().start()
    os.environ["TELEGRAM_API_URL"] = fake.url  # the runner processes inherit it
    try:
        with bench_database("crash_dups"):
            rounds = asyncio.run(run(args, fake))
    finally:
        fake.stop()
    dups = [r["duplicates"] for r in rounds]
    print(f"crash_duplicates: {len(rounds)} SIGKILLs of a runner mid-burst ({args.burst} messages at "
          f"{args.rate:.0f}/s over {args.bots} bots)")
    print(f"  duplicate answers: {sum(dups)} in total, {statistics.mean(dups):.2f} per kill (max {max(dups)}); "
          f"per kill: {dups}")
    print(f"  lost messages: {sum(r['lost'] for r in rounds)}")


if __name__ == "__main__":
    main()
