"""Fail-over of bot runners, as deployed: how long until the survivor holds and polls a SIGKILLed runner's bots.

    .venv/bin/python -m bench.runner_failover [--rounds 3]

Two `python -m chatai bots run` processes (chatai-bots@1 and @2, default 15 s leases) share 20 bots through
the Redis leases; a stream of 60 customer messages (5/s) runs, and one runner is killed with SIGKILL 3 s into
it. Figures: seconds from the kill to the survivor holding every lease of the dead runner's bots and to
them polling again (the product promises 30 s), the slowest answer, lost and duplicated answers, and how
long before the kill each duplicate's first answer was sent (a duplicate can only be a send Telegram
accepted while its 'answered' mark was one database round trip from committed).

The scenario (`failover`) is shared with tests/ops/test_runner_failover.py, which asserts what happened
(the bots moved, nothing lost, duplicates only from the dead runner before its death) and never how fast:
on a machine busy with other work the seconds are this bench's business.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BOTS = 20
MESSAGES = 60
RATE = 5.0  # messages per second: the stream lasts 12 s
KILL_AFTER = 3.0  # seconds into the stream
FIRST_CHAT = 700_000
# Hang guards only (a broken run ends here, a slow one does not): the lease alone is 15 s.
SETTLE_GUARD = 120.0
TAKEOVER_GUARD = 300.0


@dataclass
class Outcome:
    """What one fail-over did. Times are this process's monotonic seconds (the fake Bot API is a thread here)."""

    victim_tokens: list[str]
    shared_by: set[int]  # the pids holding bots before the kill
    runner_pids: set[int]
    survivor_pid: int
    killed_at: float
    takeover_seconds: float
    polling_again_seconds: float
    pushed_at: dict[int, float]
    answers: dict[int, list[tuple[str, float]]]  # chat -> [(token, sent at)] in order
    statuses: dict[str, int]
    logs: str = ""

    def lost(self) -> list[int]:
        return [chat for chat in self.pushed_at if not self.answers.get(chat)]

    def duplicated(self) -> list[int]:
        return [chat for chat, sent in self.answers.items() if len(sent) > 1]

    def victim_sends_before_kill(self) -> int:
        victims = set(self.victim_tokens)
        return sum(1 for sent in self.answers.values() for token, at in sent
                   if token in victims and at <= self.killed_at)

    def slowest_answer(self) -> float:
        return max(self.answers[c][0][1] - self.pushed_at[c] for c in self.pushed_at if self.answers.get(c))


async def owner_with_bots(tokens: list[str], email: str = "failover@example.com") -> None:
    """An owner with money (answers are charged as in production) and an assistant with its bots."""
    from chatai.db.models import MICRO, Assistant, Bot, User
    from chatai.db.session import async_session
    from chatai.security import encrypt_secret, mask_secret
    from chatai.services import billing

    async with async_session() as s:
        user = User(email=email, password_hash="-")
        s.add(user)
        await s.flush()
        assistant = Assistant(owner_id=user.id, name="Shop", handoff_on_low_confidence=False)
        s.add(assistant)
        await billing.open_account(s, user_id=user.id, welcome=False)
        await billing.credit(s, account_id=user.id, amount_micros=1000 * MICRO, kind="adjustment",
                             key=f"failover:{user.id}", reason="test balance")
        await s.flush()
        await s.execute(sa.insert(Bot), [
            dict(id=uuid.uuid4(), assistant_id=assistant.id, owner_id=user.id,
                 telegram_bot_id=int(t.split(":")[0]), username=f"failover{i}_bot", token_encrypted=encrypt_secret(t),
                 token_hint=mask_secret(t), mode="polling", webhook_secret="", desired_state="running",
                 status="starting", last_error="", runner_id="")
            for i, t in enumerate(tokens)])
        await s.commit()


async def wait_until(condition, timeout: float, what: str) -> float:  # noqa: ASYNC109
    """Seconds until condition() (sync or async) is true; `timeout` is a hang guard."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class Runners:
    """The runner processes, their logs, and who holds which bot (runner ids carry the pid)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[subprocess.Popen] = []

    def start(self, count: int) -> None:
        for n in range(count):
            log = open(self.logs / f"runner-{n}.log", "w")  # noqa: SIM115 - closed with the process
            self.procs.append(subprocess.Popen([sys.executable, "-m", "chatai", "bots", "run", "--poll-timeout", "10"],
                                               cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=log))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.logs.iterdir()))


def _pid_of(runner_id: str) -> int:
    return int(runner_id.split("-")[-2])  # "<host>-<pid>-<random>"


async def _holders(redis, bot_ids: list[uuid.UUID]) -> dict[uuid.UUID, int | None]:
    from chatai.bots.ownership import lease_key

    values = await redis.mget([lease_key(b) for b in bot_ids])
    return {b: (_pid_of(v.decode() if isinstance(v, bytes) else v) if v else None)
            for b, v in zip(bot_ids, values, strict=True)}


async def _runners_live(redis, n: int) -> bool:
    from chatai.bots.ownership import RUNNERS_KEY

    return await redis.zcard(RUNNERS_KEY) == n


def _push_stream(fake: Any, tokens: list[str], pushed_at: dict[int, float], first_chat: int) -> None:
    start = time.monotonic()
    for i in range(MESSAGES):
        delay = start + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        chat = first_chat + i  # each message its own customer, so an answer belongs to exactly one message
        pushed_at[chat] = time.monotonic()
        fake.push_text(tokens[i % len(tokens)], f"What are your opening hours? ({i})", chat_id=chat)


async def failover(fake: Any, logs: Path, *, first_chat: int = FIRST_CHAT, token_base: int = 30_000_000) -> Outcome:
    """One fail-over on a database with no bots yet (the test's, or the bench's)."""
    from chatai.cache import get_redis
    from chatai.db.models import Bot
    from chatai.db.session import async_session
    from tests.fakes.telegram_server import make_token

    tokens = [make_token(token_base + i) for i in range(BOTS)]
    for i, token in enumerate(tokens):
        fake.add_bot(token, f"failover{i}_bot")
    redis = get_redis()
    runners = Runners(logs)
    runners.start(2)
    try:
        # Both runners live before there are bots: each then takes its rendezvous-hash share at once
        # (a runner that is alone takes everything, and leases are never moved from a live runner).
        await wait_until(lambda: _runners_live(redis, 2), SETTLE_GUARD, "two runners live")
        await owner_with_bots(tokens, email=f"failover-{token_base}@example.com")
        async with async_session() as s:
            rows = (await s.execute(sa.select(Bot.id, Bot.telegram_bot_id)
                                    .where(Bot.desired_state == "running"))).all()
        by_token = {make_token(tid): bid for bid, tid in rows}
        await wait_until(lambda: all(fake.bots[t].pollers > 0 for t in tokens), SETTLE_GUARD, "every bot polling")
        holders = await _holders(redis, list(by_token.values()))
        victim, survivor = runners.procs[0], runners.procs[1]
        victim_tokens = [t for t in tokens if holders[by_token[t]] == victim.pid]
        pushed_at: dict[int, float] = {}
        stream = threading.Thread(target=_push_stream, args=(fake, tokens, pushed_at, first_chat))
        stream.start()
        await asyncio.sleep(KILL_AFTER)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        victim.wait()
        victim_ids = [by_token[t] for t in victim_tokens]

        async def all_taken() -> bool:
            return set((await _holders(redis, victim_ids)).values()) == {survivor.pid}

        await wait_until(all_taken, TAKEOVER_GUARD, "the survivor holding the dead runner's bots")
        takeover = time.monotonic() - killed_at
        await wait_until(lambda: all(fake.bots[t].pollers > 0 for t in victim_tokens), TAKEOVER_GUARD,
                         "the dead runner's bots polling again")
        polling_again = time.monotonic() - killed_at
        await asyncio.to_thread(stream.join)
        chats = range(first_chat, first_chat + MESSAGES)

        def answers() -> dict[int, list[tuple[str, float]]]:
            found: dict[int, list[tuple[str, float]]] = {}
            for token in tokens:
                for sent in fake.sent_messages(token):
                    if sent["chat_id"] in chats:
                        found.setdefault(sent["chat_id"], []).append((token, sent["at"]))
            return {chat: sorted(sent, key=lambda s: s[1]) for chat, sent in found.items()}

        await wait_until(lambda: len(answers()) == MESSAGES, TAKEOVER_GUARD, "every message answered")

        async def all_marked() -> bool:  # nothing owed any more: a second answer cannot come after this
            async with async_session() as s:
                return not (await s.execute(sa.text(
                    "SELECT 1 FROM telegram_updates WHERE status <> 'answered' LIMIT 1"))).first()

        await wait_until(all_marked, TAKEOVER_GUARD, "every update marked answered")
        async with async_session() as s:
            statuses = dict((await s.execute(sa.text(
                "SELECT status, count(*) FROM telegram_updates GROUP BY status"))).all())
        return Outcome(victim_tokens=victim_tokens, shared_by=set(holders.values()),
                       runner_pids={p.pid for p in runners.procs}, survivor_pid=survivor.pid, killed_at=killed_at,
                       takeover_seconds=takeover, polling_again_seconds=polling_again, pushed_at=dict(pushed_at),
                       answers=answers(), statuses=statuses, logs=runners.tail())
    except BaseException:
        print(runners.tail())
        raise
    finally:
        runners.stop()


async def _rounds(fake: Any, rounds: int) -> list[Outcome]:
    from chatai.cache import get_redis
    from chatai.db.session import async_session

    outcomes = []
    for n in range(rounds):
        redis = get_redis()
        keys = [k async for k in redis.scan_iter("chatai:*")]
        if keys:
            await redis.delete(*keys)
        async with async_session() as s:  # a fresh set of bots each round: the last round's stay paused
            await s.execute(sa.text("UPDATE bots SET desired_state = 'paused', status = 'paused'"))
            await s.commit()
        with tempfile.TemporaryDirectory(prefix="failover-") as logs:
            outcome = await failover(fake, Path(logs), first_chat=FIRST_CHAT + n * 1000,
                                     token_base=30_000_000 + n * 1000)
        before = [outcome.killed_at - outcome.answers[c][0][1] for c in outcome.duplicated()]
        print(f"  round {n + 1}: {len(outcome.victim_tokens)}/{BOTS} bots on the killed runner; leases taken "
              f"{outcome.takeover_seconds:.1f} s after the SIGKILL, polling again after "
              f"{outcome.polling_again_seconds:.1f} s; lost {len(outcome.lost())}, duplicated "
              f"{len(outcome.duplicated())} (first sent {', '.join(f'{b * 1000:.0f}' for b in before) or '-'} ms "
              f"before the kill); slowest answer {outcome.slowest_answer():.1f} s; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # sqlmodel's advice on session.execute

    from bench.common import bench_database
    from tests.fakes.telegram_server import FakeTelegram

    os.environ["LOG_LEVEL"] = "WARNING"
    fake = FakeTelegram().start()
    os.environ["TELEGRAM_API_URL"] = fake.url  # the runner processes inherit it
    try:
        with bench_database("runner_failover"):
            outcomes = asyncio.run(_rounds(fake, args.rounds))
    finally:
        fake.stop()
    takeovers = [o.takeover_seconds for o in outcomes]
    polling = [o.polling_again_seconds for o in outcomes]
    print(f"runner_failover: {len(outcomes)} SIGKILLs of one of two runners (20 bots, 60 messages at 5/s)")
    print(f"  leases taken over: {min(takeovers):.1f}-{max(takeovers):.1f} s after the kill; bots polling again: "
          f"{min(polling):.1f}-{max(polling):.1f} s (promised: 30 s)")
    print(f"  lost: {sum(len(o.lost()) for o in outcomes)}; duplicated: {sum(len(o.duplicated()) for o in outcomes)}")


if __name__ == "__main__":
    main()
