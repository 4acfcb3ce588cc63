"""ASGI guards in front of the whole app: security headers on every response, and the upload
endpoint refusing what it should never read.

Upload (`/_upload`, Reflex's file endpoint): Reflex reads the whole multipart body before any handler
can check its size, and accepts it from anyone. Here, before a byte of the body is read: the request
must carry a valid session cookie and name an upload handler that exists; a declared Content-Length
over the limit is refused; then the body is counted while it streams and cut off (413) as soon as it
passes the limit (at most MAX_FILES_PER_UPLOAD files of the per-file limit) or one file passes the
per-file limit, so an oversized upload is never read to its end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatai.settings import get_settings
from chatai.web.upload_parts import PartSizes, multipart_boundary, part_too_large

UPLOAD_PATH = "/_upload"
# Multipart framing (boundaries, part headers, the event's JSON) around the files themselves.
MULTIPART_OVERHEAD = 256 * 1024
MAX_FILES_PER_UPLOAD = 10

# Reflex's frontend needs inline scripts and eval (rx.call_script, dynamic components) and inline
# styles (Radix); everything else is limited to this origin, so an injected resource cannot load
# from or send data to another site, and no other site can frame the dashboard.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
])
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def with_security_headers(app: ASGIApp) -> ASGIApp:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                if b"content-security-policy" in present:  # a route's own policy (the widget's frame-ancestors
                    present.add(b"x-frame-options")  # list) governs framing; DENY would override it in old browsers
                message["headers"] = [*message.get("headers", []),
                                      *((n, v) for n, v in SECURITY_HEADERS if n not in present)]
            await send(message)

        await app(scope, receive, send_with_headers)

    return guarded


def max_upload_body_bytes() -> int:
    return get_settings().max_upload_bytes * MAX_FILES_PER_UPLOAD + MULTIPART_OVERHEAD


async def _respond(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def known_upload_handler(name: str) -> bool:
    """Whether `name` ("<state path>.<handler>") is an event handler of the app's state tree."""
    from reflex.state import State

    path, _, handler = name.rpartition(".")
    if not path or not handler:
        return False
    try:
        state_cls = State.get_root_state().get_class_substate(path)
    except (ValueError, AttributeError, KeyError):
        return False
    return handler in state_cls.event_handlers


SessionCheck = Callable[[str], Awaitable[bool]]


async def _valid_session(token: str) -> bool:
    from chatai.db.session import async_session
    from chatai.services.accounts import user_for_token

    if not token:
        return False
    async with async_session() as session:
        return await user_for_token(session, token) is not None


def guard_uploads(app: ASGIApp, *, session_ok: SessionCheck = _valid_session) -> ASGIApp:
    from chatai.web.session_cookie import cookie_value, upload_session

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != UPLOAD_PATH or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        headers = _headers(scope)
        token = cookie_value(headers.get("cookie", ""))
        if not await session_ok(token):
            await _respond(send, 401, "Sign in to upload files.")
            return
        if not known_upload_handler(headers.get("reflex-event-handler", "")):
            await _respond(send, 404, "Unknown upload handler.")
            return
        limit = max_upload_body_bytes()
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _respond(send, 413, f"The upload is larger than {limit // (1024 * 1024)} MB.")
            return
        # Count the body as the app reads it; past the limit, answer 413 and tell the app the client
        # left, so it stops reading (and whatever it answers after that is dropped). Each file is also
        # measured on its own (upload_parts.py): one over the per-file limit stops the upload there.
        size = 0
        refused = False
        boundary = multipart_boundary(headers.get("content-type", ""))
        parts = PartSizes(boundary, get_settings().max_upload_bytes) if boundary else None

        async def counted_receive() -> Message:
            nonlocal size, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                size += len(body)
                if size > limit:
                    refused = True
                    await _respond(send, 413, f"The upload is larger than {limit // (1024 * 1024)} MB.")
                    return {"type": "http.disconnect"}
                over = parts.feed(body) if parts is not None else None
                if over is not None:
                    refused = True
                    await _respond(send, 413, part_too_large(headers.get("accept-language", ""), over,
                                                             get_settings().max_upload_bytes))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            with upload_session(headers.get("reflex-client-token", ""), token):
                await app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    return guarded


def request_client(scope: Scope) -> str:
    """The client's address as Reflex computes it for events: the socket's peer, or the address that
    TRUSTED_PROXY_HOPS trusted proxies put in X-Forwarded-For (never a header a client sent directly)."""
    peer = (scope.get("client") or ("", 0))[0]
    hops = get_settings().trusted_proxy_hops
    if not hops:
        return peer
    forwarded = [ip.strip() for ip in _headers(scope).get("x-forwarded-for", "").split(",") if ip.strip()]
    return forwarded[-hops] if len(forwarded) >= hops else peer


async def read_body_capped(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes `limit` bytes (never read to its end)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
