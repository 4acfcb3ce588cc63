"""What the structured LLM answer (chatai/rag/llm_answer.py) costs, measured in one run:

    .venv/bin/python -m bench.structured_answer [--answers 300]

1. CPU of the incremental JSON reader per answer: a 700-token answer (the product's MAX_ANSWER_TOKENS) fed
   in token-sized pieces, against one json.loads of the whole reply (what a non-streaming reader would pay)
   and a plain "".join of the pieces (what streaming prose costs).
2. Time to the first answer text through the stand-in LLM (bench/llm_standin.py, fixed 1.0 s per answer,
   streamed word by word), the product's generate() with the structured format against the same request
   asking for prose: the verdict and the citations come before the answer, so its first word is later by
   the time the model takes to write them (a few tokens). No database needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time

from bench.common import percentile


def _reply(words: int = 520) -> str:
    sentence = "Доставка по Москве стоит 350 руб., при заказе от 3000 руб. — бесплатно; \"цитата\" —"
    answer = " ".join([sentence] * (words // 12))
    return json.dumps({"answer_in_passages": True, "passages_used": [1, 3], "answer": answer}, ensure_ascii=False)


def reader_cost(answers: int) -> None:
    from chatai.rag.json_field_stream import JsonFieldStream

    reply = _reply()
    pieces = re.findall(r"\S+\s*", reply)
    pieces = [p for word in pieces for p in (word[: len(word) // 2], word[len(word) // 2:]) if p]  # ~token size
    timings: dict[str, list[float]] = {"incremental reader": [], "json.loads at the end": [], "plain join": []}
    for _ in range(answers):
        started = time.perf_counter()
        reader = JsonFieldStream("answer")
        for piece in pieces:
            reader.feed(piece)
        timings["incremental reader"].append(time.perf_counter() - started)
        assert reader.ok
        started = time.perf_counter()
        json.loads("".join(pieces))
        timings["json.loads at the end"].append(time.perf_counter() - started)
        started = time.perf_counter()
        "".join(pieces)
        timings["plain join"].append(time.perf_counter() - started)
    base = statistics.median(timings["incremental reader"])
    print(f"reply: {len(reply)} characters in {len(pieces)} pieces; {answers} answers", flush=True)
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:24s} median {median * 1e6:9.1f} us  p95 {percentile(values, 95) * 1e6:9.1f} us"
              f"  (reader / this: {base / median:7.1f}x)", flush=True)


async def first_text(rounds: int) -> None:
    from bench.llm_standin import StandIn
    from chatai.llm.client import get_openai_client, reset_openai_client
    from chatai.rag.llm_answer import LLMResult, generate
    from chatai.settings import get_settings

    standin = StandIn(1.0, 1.0, seed=1)
    server = await asyncio.start_server(standin.connection, "127.0.0.1", 0)
    os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    get_settings.cache_clear()
    reset_openai_client()
    messages = [{"role": "system", "content": "[1] prices.csv / -\nДоставка 350 руб."},
                {"role": "user", "content": "Сколько стоит доставка?"}]
    waits: dict[str, list[float]] = {"prose": [], "structured": []}
    outcomes: list[str] = []
    try:
        for _ in range(rounds):
            started = time.monotonic()
            stream = await get_openai_client().chat.completions.create(model="m", messages=messages, stream=True)
            async for chunk in stream:
                if any(c.delta and c.delta.content for c in chunk.choices):
                    waits["prose"].append(time.monotonic() - started)
                    break
            await stream.close()
            started, first = time.monotonic(), None
            async for item in generate(messages=messages, model="m", temperature=0, max_tokens=700, passages=1):
                if isinstance(item, LLMResult):
                    outcomes.append(item.outcome)
                elif first is None:
                    first = time.monotonic() - started
            waits["structured"].append(first if first is not None else float("nan"))
    finally:
        server.close()
    prose, structured = statistics.median(waits["prose"]), statistics.median(waits["structured"])
    print(f"first answer text through the stand-in (1.0 s answers), {rounds} rounds each: prose median "
          f"{prose * 1000:.0f} ms, structured median {structured * 1000:.0f} ms "
          f"(+{(structured - prose) * 1000:.0f} ms, {structured / prose:.2f}x); "
          f"structured outcomes: {outcomes.count('answer')} answer of {len(outcomes)}",
          flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    reader_cost(args.answers)
    asyncio.run(first_text(args.rounds))
    sys.exit(0)
