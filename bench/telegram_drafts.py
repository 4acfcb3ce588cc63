"""Answers as they are written in Telegram (issue 22 part 3): how soon a customer sees text.

    .venv/bin/python -m bench.telegram_drafts [--chats 10] [--questions 4] [--rounds 2] [--llm-min 1] [--llm-max 3]

One process holds a bot runner (the real pipeline, retrieval on the three Russian businesses' files, answers
charged) against the fake Bot API (tests/fakes/telegram_server.py with a read-out of drafts, its own
process; timestamps on CLOCK_MONOTONIC, one clock for every process of the machine) and the stand-in LLM
(bench/llm_standin.py, its own process: 1-3 s per answer, streamed word by word, about a sixth of it before
the first word). `--chats` private chats ask `--questions`
questions each, one after another, all chats at once; the same load runs with drafts and without them
(the bot marked as one whose server rejects drafts: "typing" only), alternating `--rounds` times in one run.

Printed, p50 / p95 over every question of a mode: from the update's arrival at the fake to the first draft
with text (what the customer sees first), to the final message, and the final message's time beyond the
model's own (the stand-in writes its time into each answer). Without drafts the first visible text is the
final message.
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
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_server import main as serve_fake


class DraftsTelegram(FakeTelegram):
    """The fake Bot API as its own process, with a read-out of what each chat was shown and when."""

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "shown":
            bot = self.bots[body["token"]]
            return {"sent": [[m["chat_id"], m["text"], m["at"]] for m in bot.sent],
                    "drafts": [[d["chat_id"], d["text"], d["at"]] for d in bot.drafts]}
        return super()._control(action, body)


async def _ask_all(url: str, token: str, questions: list[str], chats: int, per_chat: int,
                   first_chat: int) -> list[dict[str, float]]:
    """Each chat asks its questions in turn; (update -> first draft, update -> final, LLM seconds) each."""
    shown: dict[str, list] = {"sent": [], "drafts": []}
    done = asyncio.Event()

    async def watch() -> None:  # one read-out for every chat, every 50 ms
        while not done.is_set():
            shown.update(await actl(url, "shown", {"token": token}))
            await asyncio.sleep(0.05)

    async def chat(n: int) -> list[dict[str, float]]:
        chat_id = first_chat + n
        out = []
        for k in range(per_chat):
            question = questions[(n * per_chat + k) % len(questions)]
            before = sum(1 for m in shown["sent"] if m[0] == chat_id)
            asked = time.monotonic()
            await actl(url, "push_text", {"token": token, "text": question, "chat_id": chat_id})
            deadline = asked + 60
            while time.monotonic() < deadline:
                mine = [m for m in shown["sent"] if m[0] == chat_id]
                if len(mine) > before:
                    final = {"text": mine[-1][1], "at": mine[-1][2]}
                    break
                await asyncio.sleep(0.02)
            else:
                out.append({"lost": 1.0})
                continue
            drafts = [{"at": d[2]} for d in shown["drafts"] if d[0] == chat_id and asked <= d[2] <= final["at"]
                      and d[1].strip()]
            ref = parse_ref(final["text"])
            out.append({"first": (drafts[0]["at"] if drafts else final["at"]) - asked,
                        "final": final["at"] - asked, "llm": ref[1] / 1000 if ref else 0.0,
                        "drafts": float(len(drafts))})
        return out

    watcher = asyncio.create_task(watch())
    try:
        results = await asyncio.gather(*[chat(n) for n in range(chats)])
    finally:
        done.set()
        await watcher
    return [r for chat_results in results for r in chat_results]


def _line(name: str, rows: list[dict[str, float]]) -> str:
    ok = [r for r in rows if "lost" not in r]
    if not ok:
        return f"{name}: no answers"

    def p(key: str) -> str:
        values = [r[key] for r in ok]
        return f"{percentile(values, 50):.2f} / {percentile(values, 95):.2f} s"

    beyond = [r["final"] - r["llm"] for r in ok]
    return (f"{name:<14} answers {len(ok):>3} (lost {len(rows) - len(ok)}), first text {p('first')}, "
            f"final {p('final')}, final beyond the LLM {percentile(beyond, 50):.2f} / {percentile(beyond, 95):.2f} s, "
            f"drafts per answer {sum(r['drafts'] for r in ok) / len(ok):.1f}")


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
    runner = BotRunner(reconcile_interval=1.0, poll_timeout=5)
    await runner.start()
    try:
        deadline = time.monotonic() + 60
        while bot_id not in runner.workers or runner.workers[bot_id].status != "running":
            if time.monotonic() > deadline:
                raise RuntimeError("the bot did not start")
            await asyncio.sleep(0.1)
        modes: dict[str, list[dict[str, float]]] = {"drafts": [], "typing only": []}
        first_chat = 100_000
        for _round in range(args.rounds):
            for mode, rows in modes.items():
                if mode == "drafts":
                    handlers._no_drafts.discard(bot_id)
                else:
                    handlers._no_drafts.add(bot_id)
                rows += await _ask_all(telegram_url, token, questions, args.chats, args.questions, first_chat)
                first_chat += args.chats
        print(f"{args.chats} private chats x {args.questions} questions x {args.rounds} rounds per mode, "
              f"stand-in LLM {args.llm_min}-{args.llm_max} s, load average {os.getloadavg()[0]:.1f}")
        for mode, rows in modes.items():
            print(_line(mode, rows))
    finally:
        await runner.stop()


def main() -> None:
    if "--serve-fake" in sys.argv:  # the fake Bot API's own process (started below)
        sys.argv.remove("--serve-fake")
        serve_fake(DraftsTelegram)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--llm-min", type=float, default=1.0)
    parser.add_argument("--llm-max", type=float, default=3.0)
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    llm, port = _start_printing_port("bench.llm_standin", "--min", str(args.llm_min), "--max", str(args.llm_max))
    telegram, telegram_port = _start_printing_port("bench.telegram_drafts", "--serve-fake")
    try:
        with bench_database("telegram_drafts"):
            asyncio.run(bench(args, f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{telegram_port}"))
    finally:
        _stop(llm)
        _stop(telegram)


if __name__ == "__main__":
    main()
