"""The processes bench.bots_10k starts, each measured apart: a runner with instant answers that reports its
bots, the webhook route served alone by one Granian worker, and the fake Bot API with per-chat send times.

    python -m bench.bots_10k_parts runner --mode webhook|polling --runner-id ID [--setup-rate N]
    python -m bench.bots_10k_parts fake
    granian --interface asgi bench.bots_10k_parts:webhook_app   (what bench.bots_10k runs)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from typing import Any

from bench.bots_scale import instant_answer
from tests.fakes.telegram_server import FakeTelegram, make_token
from tests.fakes.telegram_server import main as fake_main

WEBHOOK_CHATS = 2_000_000  # chat ids of the webhook load: one chat per message, so a send names its update


class SendTimesFake(FakeTelegram):
    """The fake Bot API plus `_ctl/sends`: when each chat of the webhook load got its messages."""

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "sends":
            return {str(chat): times for chat, times in self.chat_sends.items() if chat >= WEBHOOK_CHATS}
        if action == "setup_calls":
            counts = {"getMe": 0, "setWebhook": 0, "deleteWebhook": 0}
            for bot in self.bots.values():
                for call in bot.calls:
                    if call[0] in counts:
                        counts[call[0]] += 1
            return counts
        if action == "forget_calls":  # keeps memory flat over a long run (sends stay)
            for bot in self.bots.values():
                bot.calls.clear()
            return {"ok": True}
        return super()._control(action, body)


def _webhook_app() -> Any:
    from starlette.applications import Starlette

    if os.environ.get("BENCH_STAGES"):  # bench.bots_10k --stages (bench/webhook_stages.py)
        from bench import webhook_stages

        webhook_stages.install_web()

    from contextlib import asynccontextmanager

    from chatai.bots.webhook import webhook_routes
    from chatai.db.session import warm_app_pool

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        await warm_app_pool()  # as the app's lifespan does (chatai/chatai.py)
        yield

    return Starlette(routes=webhook_routes(), lifespan=lifespan)


webhook_app = _webhook_app() if os.environ.get("BENCH_WEBHOOK_APP") else None


async def create_bots(n: int, *, mode: str, owners: int = 1) -> list[tuple[uuid.UUID, str, str]]:
    """n bots, of one owner (the owner's page and the owner's balance row: the worst cases) or spread over
    `owners` owners, each with an assistant and a balance: (id, token, webhook secret in clear)."""
    import sqlalchemy as sa

    from bench.common import make_assistant
    from chatai.db.models import Assistant, Bot, utcnow
    from chatai.db.session import async_session
    from chatai.security import encrypt_secret, mask_secret

    assistant_ids = [await make_assistant(greeting="hi") for _ in range(max(1, owners))]
    made = [(uuid.uuid4(), make_token(20_000_000 + i), uuid.uuid4().hex) for i in range(n)]
    now = utcnow()
    async with async_session() as s:
        owner_of = {a: (await s.get(Assistant, a)).owner_id for a in assistant_ids}
        for start in range(0, n, 1000):
            await s.execute(sa.insert(Bot), [
                dict(id=bot_id, assistant_id=assistant_ids[i % len(assistant_ids)],
                     owner_id=owner_of[assistant_ids[i % len(assistant_ids)]], telegram_bot_id=20_000_000 + i,
                     username=f"tenk{i}_bot", token_encrypted=encrypt_secret(token), token_hint=mask_secret(token),
                     mode=mode, webhook_secret=encrypt_secret(secret), desired_state="running", status="starting",
                     last_error="", runner_id="", created_at=now, updated_at=now)
                for i, (bot_id, token, secret) in enumerate(made[start:start + 1000], start)])
        await s.commit()
    return made


async def _serve_runner(args: argparse.Namespace) -> None:
    from chatai.bots.runner import BotRunner, run_forever

    if os.environ.get("BENCH_STAGES"):  # bench.bots_10k --stages (bench/webhook_stages.py)
        from bench import webhook_stages

        webhook_stages.install_runner()

    runner = BotRunner(answer_fn=instant_answer, mode=args.mode, runner_id=args.runner_id,
                       setup_per_second=args.setup_rate, poll_timeout=25)
    if args.before:  # bench.bots_10k --compare-before: charges take turns as before (one at a time, FIFO)
        runner.admission.hot_row_writers = 1
        runner.admission.urgent_first = False

    async def report() -> None:
        while True:
            await asyncio.sleep(0.5)
            running = sum(1 for w in runner.workers.values() if w.status == "running")
            print(json.dumps({"workers": len(runner.workers), "running": running,
                              "setup_granted": runner.setup_pacer.granted}), flush=True)

    reporter = asyncio.create_task(report())
    try:
        await run_forever(runner)
    finally:
        reporter.cancel()
        if os.environ.get("BENCH_STAGES"):
            from bench import webhook_stages

            webhook_stages.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["runner", "fake"])
    parser.add_argument("--mode", default="webhook")
    parser.add_argument("--runner-id", default="bench-runner")
    parser.add_argument("--setup-rate", type=float, default=500.0)
    parser.add_argument("--before", action="store_true")  # hot-row turns as before (bench.bots_10k)
    args, rest = parser.parse_known_args()
    if args.role == "fake":
        sys.argv = [sys.argv[0], *rest]
        fake_main(SendTimesFake)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve_runner(args))


if __name__ == "__main__":
    main()
