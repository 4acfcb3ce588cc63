"""Telegram Business (issue 22 part 2): what answering in the owner's own chats costs beside the bot's chat.

    .venv/bin/python -m bench.business_chat [--chats 8] [--questions 3] [--rounds 2] [--llm-min 1] [--llm-max 2]

One process holds a bot runner (the real pipeline, retrieval on the Russian businesses' files, answers
charged) against the fake Bot API (its own process, tests/fakes/telegram_server.py with Telegram Business,
tests/fakes/telegram_business.py) and the stand-in LLM (bench/llm_standin.py, its own process). The same load
runs as customers writing to the bot (drafts off: "typing" in both, so the two paths differ only by the
channel) and as customers writing to an account that connected the bot (business_message updates, answers
sent with the business_connection_id), alternating `--rounds` times in one run. `--chats` chats ask
`--questions` questions each, one after another, all chats at once.

Printed per path, p50 / p95 over every question: update -> final message, the final message's time beyond
the model's own, and the CPU per answer of the process holding the runner (and the read-outs, the same for both paths).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from bench.common import bench_database, percentile
from bench.llm_standin import parse_ref
from bench.whole_path import _start_printing_port, _stop
from bench.whole_path_setup import actl, set_up_tenant
from tests.fakes import telegram_business
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_server import main as serve_fake

CONNECTION = "bc-bench"


class BusinessTelegram(FakeTelegram):
    """The fake Bot API as its own process, with Telegram Business and a read-out of the messages sent."""

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "connect":
            return {"update_id": telegram_business.connect(self, body["token"], connection_id=CONNECTION,
                                                           user_id=990_000_001)}
        if action == "business_text":
            update_id, _ = telegram_business.customer_message(self, body["token"], CONNECTION, body["text"],
                                                              chat_id=body["chat_id"])
            return {"update_id": update_id}
        if action == "sent":
            return {"sent": [[m["chat_id"], m["text"], m["at"], bool(m.get("business_connection_id"))]
                             for m in self.bots[body["token"]].sent]}
        return super()._control(action, body)


async def _ask_all(url: str, token: str, questions: list[str], chats: int, per_chat: int, first_chat: int,
                   business: bool) -> list[dict[str, float]]:
    sent: list[list[Any]] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            sent[:] = (await actl(url, "sent", {"token": token}))["sent"]
            await asyncio.sleep(0.05)

    async def chat(n: int) -> list[dict[str, float]]:
        chat_id = first_chat + n
        out = []
        for k in range(per_chat):
            question = questions[(n * per_chat + k) % len(questions)]
            before = sum(1 for m in sent if m[0] == chat_id)
            asked = time.monotonic()
            await actl(url, "business_text" if business else "push_text",
                        {"token": token, "text": question, "chat_id": chat_id})
            while time.monotonic() < asked + 60:
                mine = [m for m in sent if m[0] == chat_id]
                if len(mine) > before:
                    ref = parse_ref(mine[-1][1])
                    out.append({"final": mine[-1][2] - asked, "llm": ref[1] / 1000 if ref else 0.0,
                                "through": float(mine[-1][3] == business)})
                    break
                await asyncio.sleep(0.02)
            else:
                out.append({"lost": 1.0})
        return out

    watcher = asyncio.create_task(watch())
    try:
        results = await asyncio.gather(*[chat(n) for n in range(chats)])
    finally:
        done.set()
        await watcher
    return [r for rows in results for r in rows]


def _line(name: str, rows: list[dict[str, float]], cpu: float) -> str:
    ok = [r for r in rows if "lost" not in r]
    if not ok:
        return f"{name}: no answers"
    finals = [r["final"] for r in ok]
    beyond = [r["final"] - r["llm"] for r in ok]
    wrong = sum(1 for r in ok if not r["through"])
    return (f"{name:<14} answers {len(ok):>3} (lost {len(rows) - len(ok)}, wrong path {wrong}), final "
            f"{percentile(finals, 50):.2f} / {percentile(finals, 95):.2f} s, beyond the LLM "
            f"{percentile(beyond, 50):.2f} / {percentile(beyond, 95):.2f} s, process CPU per answer "
            f"{cpu / len(ok) * 1000:.1f} ms")


async def bench(args: argparse.Namespace, llm_url: str, telegram_url: str) -> None:
    from chatai.bots import handlers
    from chatai.bots.runner import BotRunner
    from chatai.llm.client import reset_openai_client
    from chatai.settings import get_settings

    os.environ.update({"TELEGRAM_API_URL": telegram_url, "OPENAI_BASE_URL": llm_url,
                       "OPENAI_API_KEY": "sk-bench", "TELEGRAM_MODE": "polling"})
    get_settings.cache_clear()
    reset_openai_client()
    tenant = await set_up_tenant(telegram_url, 1)
    token, bot_id = tenant.tokens[0], tenant.bot_ids[0]
    questions = tenant.question_sets[tenant.bot_sets[0]]
    handlers._no_drafts.add(bot_id)  # "typing" in the bot's chat too: the paths differ by the channel only
    runner = BotRunner(reconcile_interval=1.0, poll_timeout=5)
    await runner.start()
    try:
        deadline = time.monotonic() + 60
        while bot_id not in runner.workers or runner.workers[bot_id].status != "running":
            if time.monotonic() > deadline:
                raise RuntimeError("the bot did not start")
            await asyncio.sleep(0.1)
        await actl(telegram_url, "connect", {"token": token})
        await asyncio.sleep(1.0)  # the connection update is stored before the first business message
        rows: dict[str, list[dict[str, float]]] = {"bot chat": [], "business chat": []}
        cpu = dict.fromkeys(rows, 0.0)
        first_chat = 200_000
        for _round in range(args.rounds):
            for path in rows:
                started = time.process_time()
                rows[path] += await _ask_all(telegram_url, token, questions, args.chats, args.questions, first_chat,
                                             business=path == "business chat")
                cpu[path] += time.process_time() - started
                first_chat += args.chats
        print(f"{args.chats} chats x {args.questions} questions x {args.rounds} rounds per path, stand-in LLM "
              f"{args.llm_min}-{args.llm_max} s, load average {os.getloadavg()[0]:.1f}")
        for path, found in rows.items():
            print(_line(path, found, cpu[path]))
    finally:
        await runner.stop()


def main() -> None:
    if "--serve-fake" in sys.argv:
        sys.argv.remove("--serve-fake")
        serve_fake(BusinessTelegram)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=8)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--llm-min", type=float, default=1.0)
    parser.add_argument("--llm-max", type=float, default=2.0)
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    llm, port = _start_printing_port("bench.llm_standin", "--min", str(args.llm_min), "--max", str(args.llm_max))
    telegram, telegram_port = _start_printing_port("bench.business_chat", "--serve-fake")
    try:
        with bench_database("business_chat"):
            asyncio.run(bench(args, f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{telegram_port}"))
    finally:
        _stop(llm)
        _stop(telegram)


if __name__ == "__main__":
    main()
