"""A fake OpenAI-compatible server on 127.0.0.1 that the REAL openai client talks to over HTTP.

Serves /v1/chat/completions (plain and stream=True with a usage chunk) and /v1/embeddings (base64
float32 unless encoding_format=float, which is what the client asks for by default). Embeddings are
hashed bags of words (1536-d), so texts sharing words are similar and tests of ranking stay meaningful.

Chat replies: `script(...)` queues the next replies (text, or a ScriptedReply with a refusal or a stall
mid-stream); when the queue is empty, `reply(body)` decides. `structured(...)` writes the JSON object the
product asks for (chatai/rag/llm_answer.py).

Use it as a pytest plugin: `pytest_plugins = ["tests.fakes.openai_server"]` (or import the fixture), then
take `fake_openai`; it points settings at the server and restores them afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

EMBEDDING_DIM = 1536


def fake_embedding(text: str, dim: int = EMBEDDING_DIM) -> np.ndarray:
    vec = np.zeros(dim, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vec[int.from_bytes(digest[:4], "little") % dim] += 1.0 if digest[4] % 2 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        vec[0] = 1.0
        norm = 1.0
    return vec / norm


HOLD_LIMIT_SECONDS = 30.0  # a stalled stream resumes after this at the latest (never hang a test run)


@dataclass
class ScriptedReply:
    content: str = ""
    refusal: str = ""  # sent as delta.refusal (OpenAI's structured-output refusal), with no content
    hold_after: int | None = None  # stream this many pieces, then stall until `release` is set


def structured(answer: str, passages: Sequence[int] = (1,), in_passages: bool = True) -> str:
    """The reply object of chatai/rag/llm_answer.py, keys in the schema's order."""
    return json.dumps({"answer_in_passages": in_passages, "passages_used": list(passages), "answer": answer},
                      ensure_ascii=False)


def _asked_schema(body: dict[str, Any]) -> str:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")


def default_reply(body: dict[str, Any]) -> str:
    """A structured answer citing passage 1 when one is asked for; a rewrite returns the question as is."""
    if _asked_schema(body) == "standalone_question":
        last = str(body["messages"][-1].get("content", ""))
        return json.dumps({"question": last.rsplit("Customer's last message:", 1)[-1].strip()}, ensure_ascii=False)
    if _asked_schema(body) == "grounded_answer":
        return structured("This is the fake model's answer.")
    return "This is the fake model's answer."


class FakeOpenAI:
    """Records requests; `reply` decides the chat answer from the request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Callable[[dict[str, Any]], str] = default_reply
        self.scripted: deque[str | ScriptedReply] = deque()
        self.release = threading.Event()  # ends a scripted stall
        self.holding = threading.Event()  # set while a scripted stall is under way
        self.fail_chat = False
        self.refuse_response_format = False  # an older server: 400 for any request with a response_format
        self.send_usage = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._server_stopped = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server_stopped = True
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self, schema: str | None = None) -> list[dict[str, Any]]:
        """Chat requests, or only those asking for the response_format schema of that name."""
        return [r for r in self.requests if r["path"].endswith("/chat/completions")
                and (schema is None or _asked_schema(r["body"]) == schema)]

    def script(self, *replies: str | ScriptedReply) -> None:
        self.scripted.extend(replies)

    def _next_reply(self, body: dict[str, Any]) -> ScriptedReply:
        reply = self.scripted.popleft() if self.scripted else self.reply(body)
        return reply if isinstance(reply, ScriptedReply) else ScriptedReply(content=reply)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization", "")})
                if self.path.endswith("/embeddings"):
                    self._embeddings(body)
                elif self.path.endswith("/chat/completions"):
                    if fake.fail_chat:
                        self._json(500, {"error": {"message": "fake outage", "type": "server_error"}})
                    elif fake.refuse_response_format and "response_format" in body:
                        self._json(400, {"error": {"message": "unknown field response_format",
                                                   "type": "invalid_request_error"}})
                    else:
                        self._chat(body)
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def _embeddings(self, body: dict[str, Any]) -> None:
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = []
                for i, text in enumerate(inputs):
                    vec = fake_embedding(str(text))
                    if body.get("encoding_format") == "base64":
                        emb: Any = base64.b64encode(vec.astype("<f4").tobytes()).decode()
                    else:
                        emb = vec.tolist()
                    data.append({"object": "embedding", "index": i, "embedding": emb})
                tokens = sum(len(str(t).split()) for t in inputs)
                self._json(200, {"object": "list", "data": data, "model": body.get("model", ""),
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

            def _chat(self, body: dict[str, Any]) -> None:
                scripted = fake._next_reply(body)
                text = scripted.content
                prompt_tokens = sum(len(m.get("content", "").split()) for m in body.get("messages", []))
                completion_tokens = len(text.split())
                usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
                base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body.get("model", "")}
                if not body.get("stream"):
                    message = {"role": "assistant", "content": text or None, "refusal": scripted.refusal or None}
                    self._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                        {"index": 0, "finish_reason": "stop", "message": message}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                words = re.findall(r"\S+\s*", text)
                events = [{**base, "object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
                events += [{**base, "object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
                if scripted.refusal:
                    events.append({**base, "object": "chat.completion.chunk", "choices": [
                        {"index": 0, "delta": {"refusal": scripted.refusal}, "finish_reason": None}]})
                events.append({**base, "object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if fake.send_usage and (body.get("stream_options") or {}).get("include_usage"):
                    events.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
                for n, event in enumerate(events):
                    if scripted.hold_after is not None and n == scripted.hold_after + 1:  # +1: the role chunk
                        fake.holding.set()
                        fake.release.wait(HOLD_LIMIT_SECONDS)
                        fake.holding.clear()
                        if fake.release.is_set() and fake._server_stopped:
                            return
                    self._chunk(f"data: {json.dumps(event)}\n\n".encode())
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """Start the fake, point OPENAI_BASE_URL at it (LLM and embeddings), restore settings afterwards."""
    from chatai.llm.client import reset_openai_client
    from chatai.settings import get_settings

    server = FakeOpenAI().start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    get_settings.cache_clear()
    reset_openai_client()
    try:
        yield server
    finally:
        server.stop()
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        get_settings.cache_clear()
        reset_openai_client()
