"""Operator chat (issue 22 part 1): what routing operators' updates costs every customer message, and how
soon a linked operator's Telegram gets an alert.

    .venv/bin/python -m bench.operator_chat [--updates 20000] [--rounds 10]

- routing: per customer update, `handlers.classify` alone vs the operator check before it
  (`operator_chat.is_operator_update`, warm per-bot cache: no database), alternating blocks in one run,
  and the ratio;
- alert: one runner, the in-process fake Bot API, one linked operator; seconds from a dialog starting to wait
  (its live event) to the alert at the fake, p50/p95 over --rounds, with the default gather window
  (ALERT_GATHER, there to turn a burst into one summary) and without it; a burst of 50 waiting dialogs:
  messages sent and seconds to the summary;
- take over: seconds from the button press to the operator's answer (answerCallbackQuery).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

from bench.common import bench_database, percentile


def _routing(updates: int) -> tuple[float, float]:
    from chatai.bots import handlers, operator_chat
    from tests.fakes.telegram_updates import text_update

    class Worker:  # what is_operator_update reads of a worker; the cache is warm, as after the first message
        id = uuid.uuid4()

    operator_chat._cache[Worker.id] = (time.monotonic() + 1e9, {})
    batch = [text_update(f"question {n}", chat_id=100_000 + n % 50, update_id=n) for n in range(updates)]

    async def both() -> None:
        for update in batch:
            if not await operator_chat.is_operator_update(Worker, update):
                handlers.classify(update)

    async def alone() -> None:
        for update in batch:
            handlers.classify(update)

    timings: dict[str, list[float]] = {"alone": [], "both": []}
    for _ in range(5):
        for name, fn in (("alone", alone), ("both", both)):
            started = time.perf_counter()
            asyncio.run(fn())
            timings[name].append((time.perf_counter() - started) / updates * 1e6)
    return min(timings["alone"]), min(timings["both"])


async def _alerts(fake: Any, rounds: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from chatai.bots.runner import BotRunner
    from chatai.db.models import Bot, Dialog
    from chatai.db.operator_models import TelegramOperator
    from chatai.db.session import async_session
    from chatai.services import handoff
    from chatai.services.bots import connect_bot
    from tests.factories import make_tenant
    from tests.fakes.telegram_server import make_token
    from tests.fakes.telegram_updates import callback_update

    tenant = await make_tenant("bench-operators@example.com")
    token = make_token(900_001)
    fake.add_bot(token, "bench_ops_bot")
    async with async_session() as s:
        bot = await connect_bot(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, token=token)
        s.add(TelegramOperator(owner_id=tenant.owner_id, bot_id=bot.id, telegram_user_id=4242, chat_id=4242,
                               name="Bench operator"))
        await s.commit()
    result: dict[str, Any] = {}
    chat = iter(range(60_000, 70_000))

    async def waiting(count: int) -> list[Dialog]:
        async with async_session() as s:
            dialogs = [Dialog(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, bot_id=bot.id,
                              telegram_chat_id=next(chat), user_name="Bench", status="waiting",
                              handoff_at=sa.func.now()) for _ in range(count)]
            s.add_all(dialogs)
            await s.commit()
            for d in dialogs:
                await s.refresh(d)
        await handoff.publish_events([handoff.status_event(d) for d in dialogs])
        return dialogs

    async def sent_to_operator(after: int) -> dict[str, Any]:
        while True:
            mine = [m for m in fake.sent_messages(token) if m["chat_id"] == 4242]
            if len(mine) > after:
                return mine[-1]
            await asyncio.sleep(0.002)

    for label, gather in (("default gather", None), ("no gather", 0.0)):
        runner = BotRunner(**({} if gather is None else {"operator_alert_gather": gather}), reconcile_interval=0.3,
                           poll_timeout=1)
        await runner.start()
        while not runner.workers or next(iter(runner.workers.values())).status != "running":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        latencies = []
        for _ in range(rounds):
            before = len([m for m in fake.sent_messages(token) if m["chat_id"] == 4242])
            started = time.perf_counter()
            await waiting(1)
            await sent_to_operator(before)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(1.1)  # Telegram paces one chat at ~1 message/s (Throttle): not measured here
        result[label] = (percentile(latencies, 50), percentile(latencies, 95))
        if gather is None:
            before = len([m for m in fake.sent_messages(token) if m["chat_id"] == 4242])
            started = time.perf_counter()
            await waiting(50)
            summary = await sent_to_operator(before)
            result["burst"] = (time.perf_counter() - started, summary["text"])
            await asyncio.sleep(2.0)
            result["burst_messages"] = len([m for m in fake.sent_messages(token) if m["chat_id"] == 4242]) - before
            alert = [m for m in fake.sent_messages(token) if m["chat_id"] == 4242 and m.get("reply_markup")
                     and "callback_data" in m["reply_markup"]["inline_keyboard"][0][0]][-1]
            dialog_id = alert["reply_markup"]["inline_keyboard"][0][0]["callback_data"][5:]
            before = len(fake.callback_answers(token))
            started = time.perf_counter()
            fake.push_update(token, callback_update(alert, f"op:t:{dialog_id}", user_id=4242))
            while len(fake.callback_answers(token)) == before:  # noqa: ASYNC110 - the fake is polled
                await asyncio.sleep(0.002)
            result["take_over"] = time.perf_counter() - started
        await runner.stop()
    async with async_session() as s:
        await s.exec(sa.delete(Bot))
        await s.commit()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    os.environ["LOG_LEVEL"] = "WARNING"
    load0 = os.getloadavg()[0]
    alone, both = _routing(args.updates)
    print(f"operator_chat: routing per customer update: classify alone {alone:.1f} us, with the operator check "
          f"{both:.1f} us (x{both / alone:.2f}, +{both - alone:.1f} us)")
    from tests.fakes.telegram_server import FakeTelegram

    fake = FakeTelegram().start()
    os.environ["TELEGRAM_API_URL"] = fake.url
    try:
        with bench_database("operator_chat"):
            result = asyncio.run(_alerts(fake, args.rounds))
    finally:
        fake.stop()
    for label in ("default gather", "no gather"):
        p50, p95 = result[label]
        print(f"  alert after a dialog starts waiting ({label}): p50 {p50:.3f} s  p95 {p95:.3f} s")
    seconds, text = result["burst"]
    print(f"  burst of 50 waiting dialogs: {result['burst_messages']} message(s) in {seconds:.2f} s: {text!r}")
    print(f"  take over by button, press to answer: {result['take_over'] * 1000:.0f} ms")
    print(f"  load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
