"""The whole-path load bench's own parts (bench/whole_path.py is run by hand, not here): the stand-in LLM
streams for the time it says it took, through the real openai client; the simulated customers judge replies
right (ok, another question's answer, late, duplicate, not the model's); inbox arrivals are matched to the
questions and replies they show."""

from __future__ import annotations

import asyncio
import time

from bench.inbox_watchers import arrivals
from bench.llm_standin import StandIn, parse_ref, question_ref
from bench.load_telegram import Ask, Customer, LoadTelegram


async def test_standin_streams_for_the_time_it_reports():
    from openai import AsyncOpenAI

    standin = StandIn(0.3, 0.3, seed=1)
    server = await asyncio.start_server(standin.connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0)
    try:
        started = time.monotonic()
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "system", "content": "ctx"}, {"role": "user", "content": "Сколько стоит?"}],
            stream=True, stream_options={"include_usage": True})
        pieces, usage, first_at = [], None, None
        async for chunk in stream:
            first_at = first_at or time.monotonic()
            usage = chunk.usage or usage
            pieces += [c.delta.content for c in chunk.choices if c.delta and c.delta.content]
        elapsed = time.monotonic() - started
        embedded = await client.embeddings.create(model="e", input=["один", "два"])
    finally:
        await client.close()
        server.close()
    text = "".join(pieces)
    assert len(pieces) > 10  # streamed word by word, not in one piece
    ref = parse_ref(text)
    assert ref is not None and ref[:2] == (question_ref("Сколько стоит?"), 300)
    # When the request arrived, on this process's monotonic clock: after it was sent, before the first piece.
    assert started <= ref[2] <= first_at
    # At least the time it reports (a lower bound: a busy machine only makes a stream longer).
    assert elapsed >= 0.3
    assert usage is not None and usage.completion_tokens > 0
    assert [len(e.embedding) for e in embedded.data] == [1536, 1536]


def _customer(server: LoadTelegram, chat_id: int, questions: list[str]) -> Customer:
    customer = Customer(chat_id=chat_id, token="t", bot=0, questions=questions, offset=0)
    server.customers[chat_id] = customer
    return customer


def _ask(customer: Customer, question: str) -> Ask:
    ask = Ask(chat_id=customer.chat_id, bot=0, question=question, ref=question_ref(question), update_id=1,
              pushed_wall=time.time(), pushed=time.monotonic())
    customer.asks.append(ask)
    customer.current = ask
    return ask


def _reply(question: str, ms: int = 1500) -> str:
    return f"Ответ по документам (ref q-{question_ref(question)} llm-{ms}ms t-12.5)\n\n📄 prices.csv"


def test_customers_judge_each_reply():
    server = LoadTelegram()
    one = _customer(server, 1, ["q1", "q2"])
    first = _ask(one, "q1")
    server._on_reply(1, _reply("q1", 2100))
    assert (first.status, first.llm_ms) == ("ok", 2100)
    one.current = None
    server._on_reply(1, _reply("q1"))  # the same answer again: a duplicate
    assert [s["kind"] for s in server.strays] == ["duplicate"]

    second = _ask(one, "q2")
    first.status = "timeout"
    server._on_reply(1, _reply("q1"))  # the timed-out question's answer, late: q2 still waits
    assert (first.status, second.status) == ("late", "waiting")
    server._on_reply(1, _reply("other question"))
    assert second.status == "wrong"

    two = _customer(server, 2, ["q3"])
    third = _ask(two, "q3")
    server._on_reply(2, "Sorry, I can't answer right now.")
    assert third.status == "not_model"
    server._on_reply(99, _reply("q3"))
    assert server.strays[-1]["kind"] == "unknown_chat"


def test_arrivals_match_questions_and_replies_per_customer():
    asks = [{"chat_id": 5, "question": "Сколько стоит имплант?", "pushed_wall": 100.0, "status": "ok",
             "replied_wall": 102.0},
            {"chat_id": 6, "question": "Есть доставка?", "pushed_wall": 100.0, "status": "timeout",
             "replied_wall": 0.0},
            {"chat_id": 7, "question": "Never shown", "pushed_wall": 100.0, "status": "ok", "replied_wall": 101.0}]
    events = [("Customer 5", "Old preview", 90.0, 90.0),
              ("Customer 5", "Сколько стоит имплант?", 100.25, 100.2),
              ("Customer 6", "Есть доставка?", 100.5, 100.1),
              ("Customer 5", "Согласно документам компании, вот что", 102.1, 102.05)]
    found = arrivals(events, asks)
    assert [round(d, 2) for d in found["question"]] == [0.25, 0.5]
    assert [round(d, 2) for d in found["question_server"]] == [0.2, 0.1]
    assert [round(d, 2) for d in found["reply"]] == [0.1]
