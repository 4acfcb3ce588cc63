"""The stand-in LLM of the benches speaks the product's structured format: its streamed JSON passes the
product's own reader and judge as a cited answer still carrying the bench's reference, and a follow-up
rewrite gets the question back."""

from __future__ import annotations

import asyncio

from openai import AsyncOpenAI

from bench.llm_standin import StandIn, parse_ref, question_ref
from chatai.rag.followup import REWRITE_FORMAT, parse_rewrite
from chatai.rag.json_field_stream import JsonFieldStream
from chatai.rag.llm_answer import ANSWER_KEY, RESPONSE_FORMAT, judge


async def test_standin_streams_a_structured_answer_and_echoes_rewrites():
    standin = StandIn(0.05, 0.05, seed=1, rewrite=0.0)
    server = await asyncio.start_server(standin.connection, "127.0.0.1", 0)
    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", api_key="sk-test",
                         max_retries=0)
    question = "Сколько стоит аренда велосипеда?"
    try:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "system", "content": "[1] prices.csv / -\n..."},
                                 {"role": "user", "content": question}],
            response_format=RESPONSE_FORMAT, stream=True)
        reader, pieces = JsonFieldStream(ANSWER_KEY), []
        async for chunk in stream:
            pieces += [reader.feed(c.delta.content) for c in chunk.choices if c.delta and c.delta.content]
        rewrite = await client.chat.completions.create(
            model="m", response_format=REWRITE_FORMAT, messages=[
                {"role": "system", "content": "rewrite"},
                {"role": "user", "content": "Conversation so far:\ncustomer: Есть велосипеды?\n\n"
                                            "Customer's last message: а сколько это стоит?\n"}])
    finally:
        await client.close()
        server.close()
    result = judge(reader.values, well_formed=reader.ok, refusal="", passages=1)
    assert (result.outcome, result.cited) == ("answer", [1])
    assert len([p for p in pieces if p]) > 10 and "".join(pieces) == result.text  # streamed word by word
    assert parse_ref(result.text)[0] == question_ref(question)
    assert parse_rewrite(rewrite.choices[0].message.content) == "а сколько это стоит?"
    assert (standin.stats()["chats"], standin.stats()["rewrites"]) == (1, 1)
