"""Which web origins may talk to the app from a browser: CORS answers and the WebSocket handshake.

The dashboard is only ever used from its own origin (PUBLIC_URL). Reflex's default is to echo any
`Origin` back with credentials allowed, and to accept a WebSocket from any page: another site could
then read dashboard responses, or open the event socket with the owner's cookie and receive their
state. Here:

- `dashboard_origins()` is what rxconfig gives Reflex as `cors_allowed_origins`: Reflex's CORS
  middleware (around every route, our own included) echoes only these, and refuses other preflights.
- `guard_websocket_origin()` refuses a WebSocket handshake whose Origin is not allowed, before the
  socket is accepted (the client sees 403), whatever the socket library's own settings.

A handshake without an Origin is accepted: browsers always send one on WebSocket handshakes (a page on
another site cannot leave it out), so only non-browser clients (scripts, monitors, tests) omit it, and
they can only use a session they already hold. `Origin: null` (sandboxed frames, file pages) is refused.

Public routes of the website widget, when they exist, have their own allow-list (the owner's sites):
`public_route_origins()` is the hook that will name them per path.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from chatai.settings import Settings, get_settings

log = logging.getLogger(__name__)

# A local install is opened as localhost, 127.0.0.1 or [::1] interchangeably; all name this machine.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}  # as urlsplit().hostname gives them
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL as browsers write it in `Origin` (lowercase, default port left out)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def dashboard_origins(settings: Settings | None = None) -> tuple[str, ...]:
    """The app's own origin (PUBLIC_URL); for a local install (PUBLIC_URL on a loopback host) also the
    other loopback names and the frontend port, so that opening http://127.0.0.1:3000 when PUBLIC_URL
    says localhost (or a dev frontend on its own port) keeps working. A server install's PUBLIC_URL
    allows no loopback origin: a page served on a visitor's own machine is another site."""
    settings = settings or get_settings()
    public = origin_of(settings.public_url)
    origins = [public]
    parts = urlsplit(public)
    if (parts.hostname or "") in _LOOPBACK_NAMES:
        for port in sorted({parts.port or _DEFAULT_PORTS.get(parts.scheme, 80), settings.port}):
            for scheme in dict.fromkeys((parts.scheme, "http")):
                origins.extend(origin_of(f"{scheme}://{name}:{port}") for name in LOOPBACK_HOSTS)
    return tuple(dict.fromkeys(origins))


def public_route_origins(path: str) -> Collection[str] | None:
    """The origins allowed on a public route (the website widget: the owner's allowed sites), or None
    when `path` is a dashboard route (only `dashboard_origins()`). No public routes exist yet."""
    return None


def origin_allowed(origin: str | None, path: str) -> bool:
    """Whether a browser page at `origin` may use `path`. A missing Origin is a non-browser client."""
    if origin is None:
        return True
    if origin.strip().lower() == "null":
        return False
    allowed = public_route_origins(path)
    if allowed is None:
        allowed = dashboard_origins()
    return origin_of(origin) in allowed


def _origin_header(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"origin":
            return value.decode("latin-1")
    return None


def guard_websocket_origin(app: ASGIApp) -> ASGIApp:
    """Refuse (403, before accepting) a WebSocket handshake from a page of another origin."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            origin = _origin_header(scope)
            if not origin_allowed(origin, scope.get("path", "")):
                # The origin is a site's address, not user data: logged so an operator can see who tried, and
                # see it when PUBLIC_URL is not the address people really open (their dashboard would not load).
                log.warning("WebSocket refused: origin %r is not the app's (PUBLIC_URL %s)",
                            origin[:200] if origin else origin, get_settings().public_url)
                await send({"type": "websocket.close", "code": 1008})
                return
        await app(scope, receive, send)

    return guarded
