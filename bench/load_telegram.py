"""The fake Bot API of tests/fakes/telegram_server.py, plus the simulated customers of the whole-path bench,
in one process of its own (its CPU is reported apart from the product's):

    .venv/bin/python -m bench.load_telegram        # prints its port, serves until killed

Each customer is a private chat with one bot: it sends a question (an update its bot picks up with
getUpdates), waits for the bot's reply (sendMessage to its chat), checks it, and sends the next question at
once. Timing is taken here, on one clock, where Telegram would see it: from the update being queued to the
reply arriving. The runner sends one message per answer (it does not stream edits into Telegram), so that
message is the final one. A reply is checked by the stand-in LLM's reference (bench/llm_standin.py): the hash
of the question it answered and the model's own time. Errors: no reply within the timeout (a reply arriving
later is counted as late), a reply the model did not write (a fallback or notice), an answer to another
question of this chat or to no question of this chat (wrong chat), and a second reply to one question
(duplicate).

Control API (loopback, JSON): /_ctl/add_bots, /_ctl/polling, /_ctl/start_customers, /_ctl/stop_customers,
/_ctl/customers_done, /_ctl/results (and the base server's own).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.llm_standin import parse_ref, question_ref
from tests.fakes.telegram_server import FakeBot, FakeTelegram
from tests.fakes.telegram_server import main as fake_telegram_main
from tests.fakes.telegram_updates import text_update


@dataclass
class Ask:
    chat_id: int
    bot: int
    question: str
    ref: str
    update_id: int
    pushed_wall: float
    pushed: float  # monotonic
    picked_up: float = 0.0  # handed to the runner by getUpdates (monotonic)
    replied: float = 0.0
    replied_wall: float = 0.0
    llm_ms: int = 0
    llm_start: float = 0.0  # the request reached the stand-in LLM (monotonic, same clock)
    status: str = "waiting"  # ok | timeout | late | not_model | wrong
    detail: str = ""
    replies: int = 0


@dataclass
class Customer:
    chat_id: int
    token: str
    bot: int
    questions: list[str]
    offset: int
    asks: list[Ask] = field(default_factory=list)
    current: Ask | None = None
    answered: asyncio.Future | None = None


class LoadTelegram(FakeTelegram):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port=port)
        self.customers: dict[int, Customer] = {}
        self.tasks: list[asyncio.Task] = []
        self.stopping = False
        self.strays: list[dict[str, Any]] = []

    # --- sendMessage: the customers' side ---------------------------------------------------------------

    async def _api_sendMessage(self, bot: FakeBot, params: dict[str, Any], reader: Any) -> tuple[int, Any]:
        status, payload = await super()._api_sendMessage(bot, params, reader)
        if status == 200:
            self._on_reply(int(params.get("chat_id", 0)), str(params.get("text", "")))
        return status, payload

    def _on_reply(self, chat_id: int, text: str) -> None:
        now, wall = time.monotonic(), time.time()
        customer = self.customers.get(chat_id)
        if customer is None:
            self.strays.append({"kind": "unknown_chat", "chat_id": chat_id, "text": text[:80]})
            return
        ref = parse_ref(text)
        ask = customer.current
        if ask is not None and ask.status == "waiting":
            ask.replies += 1
            ask.replied, ask.replied_wall = now, wall
            if ref is None:
                ask.status, ask.detail = "not_model", re.sub(r"<[^>]+>", "", text)[:120]
            elif ref[0] == ask.ref:
                ask.status, ask.llm_ms, ask.llm_start = "ok", ref[1], ref[2]
            else:
                earlier = [a for a in customer.asks if a.ref == ref[0]]
                if earlier:  # the answer to an earlier, timed-out question: late, keep waiting for this one
                    ask.replies -= 1
                    earlier[-1].status = "late"
                    return
                ask.status, ask.detail = "wrong", "answer to a question this chat did not ask"
            if customer.answered is not None and not customer.answered.done():
                customer.answered.set_result(None)
            return
        # Nothing outstanding in this chat: a second reply to an answered question, or a late one.
        matching = [a for a in customer.asks if ref is not None and a.ref == ref[0]]
        if matching and matching[-1].status == "timeout":
            matching[-1].status = "late"
        elif matching:
            matching[-1].replies += 1
            self.strays.append({"kind": "duplicate", "chat_id": chat_id, "text": text[:80]})
        else:
            self.strays.append({"kind": "unexpected", "chat_id": chat_id, "text": text[:80]})

    async def _customer(self, customer: Customer, wait: float, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        loop = asyncio.get_running_loop()
        k = 0
        while not self.stopping:
            question = customer.questions[(customer.offset + k) % len(customer.questions)]
            k += 1
            language = "ru" if re.search("[а-яё]", question.lower()) else "en"
            customer.answered = loop.create_future()
            update = text_update(question, chat_id=customer.chat_id, first_name=f"Customer {customer.chat_id}",
                                 language=language)
            pushed_wall, pushed = time.time(), time.monotonic()
            update_id = self._push(customer.token, update)
            ask = Ask(chat_id=customer.chat_id, bot=customer.bot, question=question, ref=question_ref(question),
                      update_id=update_id, pushed_wall=pushed_wall, pushed=pushed)
            customer.current = ask
            customer.asks.append(ask)
            try:
                await asyncio.wait_for(asyncio.shield(customer.answered), wait)
            except TimeoutError:
                ask.status = "timeout"
            ask.picked_up = self.bots[customer.token].delivered_at.get(update_id, 0.0)
            customer.current = None

    # --- control --------------------------------------------------------------------------------------

    def _control(self, action: str, body: dict[str, Any]) -> Any:
        if action == "polling":
            return {"bots": len(self.bots), "polling": sum(1 for b in self.bots.values() if b.pollers > 0)}
        if action == "start_customers":
            # body: chats [[chat_id, token, bot index, questions index]], question sets, timeout, ramp seconds
            self.stopping = False
            self.customers.clear()
            self.strays.clear()
            sets = body["question_sets"]
            chats = body["chats"]
            for n, (chat_id, token, bot_no, set_no) in enumerate(chats):
                customer = Customer(chat_id=chat_id, token=token, bot=bot_no, questions=sets[set_no], offset=n * 7)
                self.customers[chat_id] = customer
                delay = body.get("ramp", 2.0) * n / max(1, len(chats))
                self.tasks.append(asyncio.ensure_future(self._customer(customer, body["timeout"], delay)))
            return {"ok": True}
        if action == "stop_customers":
            self.stopping = True
            return {"ok": True}
        if action == "customers_done":
            self.tasks = [t for t in self.tasks if not t.done()]
            return {"running": len(self.tasks)}
        if action == "results":
            asks = [asdict(a) for c in self.customers.values() for a in c.asks]
            return {"asks": asks, "strays": list(self.strays)}
        return super()._control(action, body)


def main() -> None:
    fake_telegram_main(LoadTelegram)


if __name__ == "__main__":
    main()
