"""Widget test helpers: an owner whose assistant's website channel is on for shop.example.com, the app's
HTTP routes exactly as served (chatai.web.api.with_api_routes, guards and headers included), and a reader
of server-sent events that consumes a live stream event by event through the real ASGI interface."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from chatai.settings import get_settings
from chatai.web.api import with_api_routes
from chatai.web.origin_guard import origin_of
from tests.factories import Tenant, make_tenant
from tests.waits import PATIENCE

SITE = "shop.example.com"
SITE_ORIGIN = f"https://{SITE}"


async def _no_reflex(scope, receive, send):  # noqa: ANN001 - what the widget paths must never reach
    await send({"type": "http.response.start", "status": 599, "headers": []})
    await send({"type": "http.response.body", "body": b"reflex"})


APP = with_api_routes(_no_reflex)


def app_origin() -> str:
    return origin_of(get_settings().public_url)


async def enable_widget(tenant: Tenant, sites: list[str] | None = None, **fields) -> None:
    from chatai.db.session import async_session
    from chatai.widget.store import save_widget

    async with async_session() as session:
        await save_widget(session, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                          **{"enabled": True, "allowed_sites": sites if sites is not None else [SITE], **fields})


@pytest.fixture
async def tenant(db) -> Tenant:
    owner = await make_tenant(f"owner-{uuid.uuid4().hex[:8]}@example.com")
    await enable_widget(owner)
    return owner


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url=get_settings().public_url,
                                 headers={"Origin": app_origin()}) as http:
        yield http


async def start_session(client: httpx.AsyncClient, assistant_id: uuid.UUID, *, token: str = "", site: str = SITE,
                        new: bool = False, lang: str = "en") -> httpx.Response:
    return await client.post(f"/widget/api/{assistant_id}/session?lang={lang}",
                             json={"token": token, "site": site, "new": new})


async def started_conversation(client: httpx.AsyncClient, assistant_id: uuid.UUID, *, lang: str = "en",
                               text: str = "Hello") -> dict:
    """A visitor whose conversation has begun: its first message stored as the panel's first message stores
    it (answering.start_conversation; a conversation exists only from its first message), and the session a
    reload then gets (its dialog and cursor)."""
    from chatai.widget.answering import start_conversation
    from chatai.widget.tokens import read_token

    first = (await start_session(client, assistant_id, lang=lang)).json()
    visitor = read_token(first["token"], assistant_id=assistant_id)
    await start_conversation(visitor=visitor, language=lang, text=text, client_message_id=uuid.uuid4().hex)
    return (await start_session(client, assistant_id, token=first["token"], lang=lang)).json()


@dataclass
class EventStream:
    """A live SSE response read through the ASGI interface: `next_event` waits for each event as the app
    writes it; `close` disconnects like a visitor closing the tab."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: asyncio.Queue = field(default_factory=asyncio.Queue)
    buffer: str = ""
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    async def next_event(self, name: str | None = None) -> tuple[str, dict]:
        """The next event (of `name` when given), skipping keep-alive comments."""
        while True:
            while "\n\n" not in self.buffer:
                chunk = await asyncio.wait_for(self.chunks.get(), PATIENCE)
                if chunk is None:
                    raise EOFError(self.buffer)
                self.buffer += chunk.decode()
            block, self.buffer = self.buffer.split("\n\n", 1)
            lines = [line for line in block.split("\n") if ": " in line and not line.startswith(":")]
            fields = dict(line.split(": ", 1) for line in lines)
            if "event" in fields and (name is None or fields["event"] == name):
                return fields["event"], json.loads(fields["data"])

    async def rest(self) -> list[tuple[str, dict]]:
        """Every event until the response ends."""
        events = []
        try:
            while True:
                events.append(await self.next_event())
        except EOFError:
            return events


@asynccontextmanager
async def open_stream(method: str, path: str, *, token: str = "", body: dict | None = None,
                      origin: str | None = None) -> AsyncIterator[EventStream]:
    stream = EventStream()
    payload = json.dumps(body).encode() if body is not None else b""
    headers = [(b"host", b"localhost:3000"), (b"origin", (origin or app_origin()).encode()),
               (b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    raw_path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": raw_path, "raw_path": raw_path.encode(), "query_string": query.encode(), "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("localhost", 3000), "root_path": ""}
    sent_body = False

    async def receive():
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await stream.disconnected.wait()
        return {"type": "http.disconnect"}

    started = asyncio.Event()

    async def send(message):
        if message["type"] == "http.response.start":
            stream.status = message["status"]
            stream.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            started.set()
        elif message["type"] == "http.response.body":
            if message.get("body"):
                stream.chunks.put_nowait(message["body"])
            if not message.get("more_body"):
                stream.chunks.put_nowait(None)

    task = asyncio.create_task(APP(scope, receive, send))
    await asyncio.wait_for(started.wait(), PATIENCE)
    try:
        yield stream
    finally:
        stream.disconnected.set()
        try:
            await asyncio.wait_for(task, PATIENCE)
        except (asyncio.CancelledError, TimeoutError):
            task.cancel()
