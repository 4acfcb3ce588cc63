"""An OpenAI-compatible stand-in LLM for the whole-path bench, as a process of its own:

    .venv/bin/python -m bench.llm_standin [--min 1.0] [--max 3.0] [--seed 1]   # prints its port, serves

/v1/chat/completions answers after a random 1-3 s (uniform, per request), streamed word by word when asked
(`stream=True`, as the product asks): about a sixth of the time before the first word, the rest spread over
the words. The answer ends with `(ref q-<hash> llm-<ms>ms t-<arrival>)`: the hash of the question (the last
user message, see `question_ref`), the time this request was given, and when it arrived (time.monotonic(),
CLOCK_MONOTONIC: one clock for every process of the machine), so the bench can check the reply went to the
chat that asked, subtract the model's own time from each end-to-end latency exactly, and split the rest into
before the model (update in -> request at the model) and after it.
/v1/embeddings answers at once with the tests' hashed bag-of-words vectors (1536-d, base64 or float): in
OpenAI mode the product embeds with the same server as it chats.
It speaks the product's structured format (chatai/rag/llm_answer.py): a request asking for the
"grounded_answer" JSON schema gets that object, streamed word by word the same way, its "answer" holding the
text above and citing passage 1; a "standalone_question" request (the follow-up rewrite of
chatai/rag/followup.py) gets the question back unchanged after --rewrite seconds (0.3 by default), counted
apart as `rewrites`. A request with no response_format gets the prose answer.
GET /_stats returns what was served, and how late each stream ended compared with its given time (the
stand-in's own lag on a busy machine, which the bench counts as overhead, not as the model's time).

asyncio with a hand-written HTTP/1.1 (keep-alive, Content-Length requests, chunked streams), like the fake
Bot API: hundreds of concurrent streams in one thread, so its CPU stays small and is reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import re
import sys
import time
from typing import Any

from tests.fakes.openai_server import fake_embedding

BODY_RU = ("Согласно документам компании, вот что можно сказать по вашему вопросу. Подробности указаны в "
           "прайс-листе и правилах, которые приведены в источнике ниже. Если нужно уточнить детали, напишите, "
           "и я помогу разобраться с условиями, сроками и стоимостью.")
BODY_EN = ("According to the company's documents, here is what applies to your question. The details are in "
           "the price list and the rules quoted in the source below. If you need more, just ask and I will "
           "help with the terms, the timing and the cost.")
REWRITE_MARKER = "Customer's last message:"  # chatai/llm/prompts/followup_conversation.txt
REF = re.compile(r"\(ref q-([0-9a-f]{8}) llm-(\d+)ms t-([\d.]+)\)")


def _asked_schema(body: dict[str, Any]) -> str:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")


def question_ref(question: str) -> str:
    return hashlib.sha1(question.encode()).hexdigest()[:8]  # noqa: S324 - a label, not security


def parse_ref(text: str) -> tuple[str, int, float] | None:
    """(question hash, model milliseconds, when the request arrived on the system-wide monotonic clock) from a
    reply, or None for a reply the model did not write."""
    m = REF.search(text)
    return (m.group(1), int(m.group(2)), float(m.group(3))) if m else None


class StandIn:
    def __init__(self, low: float, high: float, seed: int, rewrite: float = 0.3) -> None:
        self.low, self.high = low, high
        self.rewrite = rewrite
        self.rng = random.Random(seed)  # noqa: S311 - latencies, not secrets
        self.chats = 0
        self.rewrites = 0
        self.embeddings = 0
        self.active = 0
        self.max_active = 0
        self.lateness: list[float] = []  # seconds past the given time at which each stream ended

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                path = target.split("?", 1)[0]
                if method == "GET" and path == "/_stats":
                    await self._json(writer, 200, self.stats())
                elif path.endswith("/embeddings"):
                    await self._json(writer, 200, self.embed(json.loads(body or b"{}")))
                elif path.endswith("/chat/completions"):
                    await self.chat(writer, json.loads(body or b"{}"))
                else:
                    await self._json(writer, 404, {"error": {"message": "not found"}})
        except (ConnectionError, asyncio.CancelledError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    @staticmethod
    async def _json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                     "Connection: keep-alive\r\n\r\n".encode() + data)
        await writer.drain()

    def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.embeddings += len(inputs)
        data = []
        for i, text in enumerate(inputs):
            vec = fake_embedding(str(text))
            emb: Any = (base64.b64encode(vec.astype("<f4").tobytes()).decode()
                        if body.get("encoding_format") == "base64" else vec.tolist())
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(len(str(t).split()) for t in inputs)
        return {"object": "list", "data": data, "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    async def chat(self, writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
        if _asked_schema(body) == "standalone_question":
            await self.rewrite_question(writer, body)
            return
        started = time.monotonic()
        given = self.rng.uniform(self.low, self.high)
        self.chats += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            messages = body.get("messages") or []
            question = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
            base_text = BODY_RU if re.search("[а-яё]", question.lower()) else BODY_EN
            text = f"{base_text} (ref q-{question_ref(question)} llm-{round(given * 1000)}ms t-{started:.4f})"
            if _asked_schema(body) == "grounded_answer":
                text = json.dumps({"answer_in_passages": True, "passages_used": [1], "answer": text},
                                  ensure_ascii=False)
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                     "total_tokens": prompt_tokens + len(text.split())}
            base = {"id": "chatcmpl-standin", "created": int(time.time()), "model": body.get("model", "")}
            if not body.get("stream"):
                await asyncio.sleep(given)
                await self._json(writer, 200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]})
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: keep-alive\r\n\r\n")
            words = re.findall(r"\S+\s*", text)
            first_at = given / 6
            events = [{"delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
            events += [{"delta": {"content": w}, "finish_reason": None} for w in words]
            for n, choice in enumerate(events):
                due = started + (0 if n == 0 else first_at + (given - first_at) * (n - 1) / max(1, len(words) - 1))
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._chunk(writer, {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, **choice}]})
                await writer.drain()
            self._chunk(writer, {**base, "object": "chat.completion.chunk",
                                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                self._chunk(writer, {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            data = b"data: [DONE]\n\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
            await writer.drain()
            self.lateness.append(time.monotonic() - started - given)
        finally:
            self.active -= 1

    async def rewrite_question(self, writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
        """The follow-up rewrite: the customer's last message back as the standalone question."""
        self.rewrites += 1
        await asyncio.sleep(self.rewrite)
        last = str((body.get("messages") or [{}])[-1].get("content", ""))
        question = last.rsplit(REWRITE_MARKER, 1)[-1].strip()
        content = json.dumps({"question": question}, ensure_ascii=False)
        usage = {"prompt_tokens": len(last.split()), "completion_tokens": len(content.split()),
                 "total_tokens": len(last.split()) + len(content.split())}
        await self._json(writer, 200, {
            "id": "chatcmpl-standin", "created": int(time.time()), "model": body.get("model", ""),
            "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]})

    @staticmethod
    def _chunk(writer: asyncio.StreamWriter, event: dict[str, Any]) -> None:
        data = f"data: {json.dumps(event)}\n\n".encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def stats(self) -> dict[str, Any]:
        late = sorted(self.lateness)
        return {"chats": self.chats, "rewrites": self.rewrites, "embeddings": self.embeddings,
                "max_active": self.max_active,
                "late_p50_ms": round(late[len(late) // 2] * 1000, 1) if late else 0.0,
                "late_p95_ms": round(late[int(0.95 * (len(late) - 1))] * 1000, 1) if late else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--min", type=float, default=1.0, help="shortest answer, seconds")
    parser.add_argument("--max", type=float, default=3.0, help="longest answer, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rewrite", type=float, default=0.3, help="follow-up rewrite time, seconds")
    args = parser.parse_args()

    async def serve() -> None:
        standin = StandIn(args.min, args.max, args.seed, args.rewrite)
        server = await asyncio.start_server(standin.connection, "127.0.0.1", args.port, backlog=4096)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
