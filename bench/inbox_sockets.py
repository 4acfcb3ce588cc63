"""K inbox tabs as raw WebSocket clients of the running web worker, without rendering: what a browser tab
sends and receives on the dashboard's inbox, spoken by hand (engine.io v4 + socket.io v5 over wsproto), so
that 50-200 tabs fit this machine beside the whole-path load (Chromium tabs do not: bench/inbox_watchers.py).

Each tab, as a browser's (reflex_base/.templates/web/utils/state.js): its own client token in the handshake's
query, the signed-in session's cookie and the app's Origin on the handshake (the product reads the session
from it, chatai/web/session_cookie.py), the boot event `hydrate_and_load` of /dashboard/inbox in the socket.io
CONNECT packet (which queues the page's on_load: the guard and InboxState.load_inbox), then the sidebar's
mount event LiveBadgeState.track. Other mount-time loads of the dashboard (banners, switcher) are left out:
they cost at start only, not per live event. Pings are answered with pongs, as socket.io-client does.

From then on every delta the server pushes is read as it comes (one reader task per socket: a slow reader
must not look like a slow server) and each change of a listed dialog's preview is noted as (customer name,
preview, time.time() on arrival of the frame, the same again), the shape bench.inbox_watchers.arrivals reads
(the second time is "the WebSocket message carrying it"; with no rendering the two are one).

All K clients run in ONE asyncio process of their own, so its CPU is measured apart from the server's. The
bench drives it through `SocketTabs` (stdin/stdout lines: "reset", "events <file>", "close").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import wsproto
from wsproto.events import AcceptConnection, CloseConnection, Message, Ping, RejectConnection, Request, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

NAMESPACE = "/_event"  # Reflex's socket.io namespace and engine.io path (rxconfig's event URL)
INBOX_PATH = "/dashboard/inbox"
FIELD = "_rx_state_"  # Reflex's suffix of a state field in a delta (reflex_base.constants.state.FIELD_MARKER)
CONNECT_AT_ONCE = 8  # tabs opening at the same time during set-up (a burst of page loads, not the load measured)


# --- the protocol, as text frames ------------------------------------------------------------------------


def connect_packet(boot_event: dict[str, Any]) -> str:
    """engine.io message (4) carrying socket.io CONNECT (0) to the namespace, the boot event in its auth."""
    return f"40{NAMESPACE}," + json.dumps({"event": boot_event})


def event_packet(event: dict[str, Any]) -> str:
    """engine.io message (4) carrying socket.io EVENT (2) "event" on the namespace, as socket.emit does."""
    return f"42{NAMESPACE}," + json.dumps(["event", event])


def reflex_event(name: str, path: str = INBOX_PATH, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event as the browser sends it (state.js: name, payload, router_data from the page's location)."""
    return {"name": name, "payload": payload or {}, "handler": None,
            "router_data": {"pathname": path, "asPath": path}}


def parse_packet(text: str) -> tuple[str, Any]:
    """One text frame -> (kind, data): ("open", handshake), ("ping", None), ("connected", ...), ("refused",
    ...), ("event", [name, *args]), ("close", None) or ("other", text)."""
    if not text:
        return "other", text
    kind = text[0]
    if kind == "0":
        return "open", json.loads(text[1:])
    if kind == "2":
        return "ping", None
    if kind == "1":
        return "close", None
    if kind != "4" or len(text) < 2:
        return "other", text
    sio, body = text[1], text[2:]
    if body.startswith(NAMESPACE + ","):
        body = body[len(NAMESPACE) + 1:]
    elif body.startswith(NAMESPACE):
        body = body[len(NAMESPACE):]
    body = body.lstrip("0123456789")  # an ack id, if any
    data = json.loads(body) if body else None
    return {"0": "connected", "4": "refused", "2": "event", "1": "close"}.get(sio, "other"), data


def dialog_rows(update: dict[str, Any], inbox_state: str) -> list[dict[str, Any]] | None:
    """The inbox's list in a pushed update, when the update carries it (Reflex sends a changed var whole)."""
    delta = update.get("delta") if isinstance(update, dict) else None
    if not isinstance(delta, dict):
        return None
    rows = (delta.get(inbox_state) or {}).get("dialogs" + FIELD)
    return rows if isinstance(rows, list) else None


# --- one tab -------------------------------------------------------------------------------------------


@dataclass
class SocketTab:
    url: str  # http://host:port of the app
    cookie: str  # the Cookie header a signed-in browser sends
    names: dict[str, str]  # root / inbox / badge: Reflex's full state names
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    events: list[tuple[str, str, float, float]] = field(default_factory=list)
    last: dict[str, str] = field(default_factory=dict)  # customer -> preview now listed (the baseline)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)  # the inbox's on_load ran for this tab
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # loaded, or sent elsewhere
    redirects: list[str] = field(default_factory=list)  # where the server sent this tab (a refused page)
    frames: int = 0
    error: str = ""
    _writer: asyncio.StreamWriter | None = None
    _ws: wsproto.WSConnection | None = None
    _task: asyncio.Task | None = None

    async def open(self) -> None:
        parts = urlsplit(self.url)
        reader, self._writer = await asyncio.open_connection(parts.hostname, parts.port)
        self._ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        target = f"{NAMESPACE}/?EIO=4&transport=websocket&token={self.token}"
        self._send_raw(Request(host=parts.netloc, target=target,
                               extra_headers=[(b"cookie", self.cookie.encode()), (b"origin", self.url.encode())]))
        self._task = asyncio.create_task(self._read(reader), name=f"socket-tab-{self.token[:8]}")

    def _send_raw(self, event: Any) -> None:
        assert self._writer is not None and self._ws is not None
        self._writer.write(self._ws.send(event))

    def send(self, text: str) -> None:
        self._send_raw(Message(data=text))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        assert self._ws is not None
        pieces: list[str] = []
        try:
            while data := await reader.read(1 << 16):
                arrived = time.time()  # the same wall clock the fake Telegram writes its times with
                self._ws.receive_data(data)
                for event in self._ws.events():
                    if isinstance(event, TextMessage):
                        pieces.append(event.data)
                        if event.message_finished:
                            self._on_text("".join(pieces), arrived)
                            pieces.clear()
                    elif isinstance(event, Ping):
                        self._send_raw(event.response())
                    elif isinstance(event, RejectConnection):
                        self.error = f"handshake refused ({event.status_code})"
                        return
                    elif isinstance(event, CloseConnection):
                        self.error = self.error or f"closed by the server ({event.code})"
                        return
                    elif isinstance(event, AcceptConnection):
                        continue
        except (ConnectionError, LocalProtocolError, RemoteProtocolError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.error = self.error or "connection ended"  # a tab that stops reading is no tab: report it

    def _on_text(self, text: str, arrived: float) -> None:
        self.frames += 1
        kind, data = parse_packet(text)
        if kind == "open":  # engine.io is up: join the namespace, hydrating and loading the inbox on the way
            self.send(connect_packet(reflex_event(f"{self.names['root']}.hydrate_and_load")))
        elif kind == "ping":
            self.send("3")
        elif kind == "connected":  # the sidebar mounts (its badge registers the tab for live updates too)
            self.send(event_packet(reflex_event(f"{self.names['badge']}.track")))
        elif kind == "refused":
            self.error = f"namespace refused: {data}"
        elif kind == "close":
            self.error = "disconnected by the server"
        elif kind == "event" and isinstance(data, list) and len(data) > 1 and data[0] == "event":
            self._on_update(data[1], arrived)

    def _on_update(self, update: dict[str, Any], arrived: float) -> None:
        inbox = (update.get("delta") or {}).get(self.names["inbox"]) or {}
        if inbox.get("assistant_options" + FIELD) or inbox.get("bot_options" + FIELD):  # load_inbox ran
            self.loaded.set()
            self.settled.set()
        for event in update.get("events") or []:
            if isinstance(event, dict) and event.get("name") == "_redirect":  # rx.redirect: a browser would leave
                self.redirects.append(str((event.get("payload") or {}).get("path", "")))
                self.settled.set()
        rows = dialog_rows(update, self.names["inbox"])
        if rows is None:
            return
        for row in rows:
            user, preview = str(row.get("user_name", "")), str(row.get("preview", ""))
            if self.last.get(user) != preview:
                self.last[user] = preview
                self.events.append((user, preview, arrived, arrived))

    async def close(self) -> None:
        if self._writer is not None and self._ws is not None:
            with contextlib.suppress(Exception):
                self.send(f"41{NAMESPACE},")  # socket.io DISCONNECT
                self._send_raw(CloseConnection(code=1000))
                await self._writer.drain()
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


async def open_tabs(url: str, cookies: list[str], names: dict[str, str], *,
                    timeout: float = 120.0) -> list[SocketTab]:  # noqa: ASYNC109 - set-up, not measured
    """One tab per cookie (a cookie repeated = tabs of one browser session), each with its inbox loaded or
    refused (sent elsewhere) when this returns, unless `timeout` passed first."""
    tabs = [SocketTab(url, cookie, names) for cookie in cookies]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(tab: SocketTab) -> None:
        async with gate:
            await tab.open()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tab.settled.wait(), timeout)

    await asyncio.gather(*(one(tab) for tab in tabs))
    return tabs


# --- the client process and the bench's handle on it ------------------------------------------------------


async def _serve(spec: dict[str, Any]) -> None:
    tabs = await open_tabs(spec["url"], spec["cookies"], spec["names"])
    loaded = sum(1 for t in tabs if t.loaded.is_set())
    errors = sorted({t.error for t in tabs if t.error} | {f"sent to {t.redirects[-1]}" for t in tabs if t.redirects})
    print(json.dumps({"tabs": len(tabs), "loaded": loaded, "errors": errors[:5]}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        if command == "reset":  # what is listed now is the baseline
            for tab in tabs:
                tab.events.clear()
                tab.frames = 0
            print(json.dumps({"ok": True}), flush=True)
        elif command == "events":
            with open(arg, "w") as out:  # noqa: ASYNC230 - once per step, after the measured window
                json.dump([{"events": t.events, "error": t.error, "frames": t.frames} for t in tabs], out)
            print(json.dumps({"ok": True}), flush=True)
        elif command == "close":
            break
    await asyncio.gather(*(t.close() for t in tabs))


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    asyncio.run(_serve(spec))


class SocketTabs:
    """The bench's side: start the client process (one sign-in cookie per tab), reset, read the events."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.proc: asyncio.subprocess.Process | None = None
        self.opened: dict[str, Any] = {}
        self.last_errors: list[str] = []
        self.last_frames: list[int] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self, cookies: list[str]) -> SocketTabs:
        from chatai.web.live import LiveBadgeState
        from chatai.web.state.inbox import InboxState

        names = {"root": LiveBadgeState.get_root_state().get_full_name(), "inbox": InboxState.get_full_name(),
                 "badge": LiveBadgeState.get_full_name()}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.inbox_sockets", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        self.opened = await self._ask(json.dumps({"url": self.app_url, "cookies": cookies, "names": names}))
        return self

    async def _ask(self, line: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()
        answer = await self.proc.stdout.readline()
        if not answer:
            raise RuntimeError("the socket tabs' process ended")
        return json.loads(answer)

    async def reset(self) -> None:
        await self._ask("reset")

    async def events(self) -> list[list[tuple[str, str, float, float]]]:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="socket-tabs-") as folder:
            path = Path(folder) / "events.json"
            await self._ask(f"events {path}")
            tabs = json.loads(path.read_text())
        self.last_errors = sorted({t["error"] for t in tabs if t["error"]})
        self.last_frames = [t["frames"] for t in tabs]  # frames each tab received since the last reset
        return [[tuple(e) for e in t["events"]] for t in tabs]

    async def close(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            self.proc.stdin.write(b"close\n")  # type: ignore[union-attr]
            await self.proc.stdin.drain()  # type: ignore[union-attr]
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


if __name__ == "__main__":
    main()
