"""Plain HTTP routes beside the Reflex app: health, the session cookie routes, (from the bots package)
Telegram webhooks; and the guards every request passes (web/http_guards.py).

They are dispatched by path in front of the Reflex ASGI app rather than by mounting Reflex inside a
Starlette app: a mounted app never receives the lifespan events, and Reflex's lifespan starts the
ingest worker and the bot runner.
"""

from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from chatai.health import check_health, public_report
from chatai.settings import get_settings
from chatai.web.http_guards import guard_uploads, with_security_headers
from chatai.web.origin_guard import guard_websocket_origin
from chatai.web.payments_api import PAYMENTS_PREFIX, payment_routes
from chatai.web.session_cookie import AUTH_PREFIX, auth_routes
from chatai.widget.routes import PREFIX as WIDGET_PREFIX
from chatai.widget.routes import widget_routes

WEBHOOK_PREFIX = "/telegram/webhook/"
# Paths (exact, or prefixes ending in "/") served by our routes instead of Reflex.
API_PATHS = ("/health", "/metrics", WEBHOOK_PREFIX, AUTH_PREFIX, PAYMENTS_PREFIX, WIDGET_PREFIX)
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_PROXY_HEADERS = (b"x-forwarded-for", b"x-real-ip", b"forwarded")


def from_loopback_directly(request: Request) -> bool:
    """A request from this machine itself (an operator's curl, a monitor), not one relayed by a proxy on
    this machine for someone outside (nginx forwards with X-Forwarded-For / X-Real-IP)."""
    client = request.client.host if request.client else ""
    relayed = any(name in _PROXY_HEADERS for name, _ in request.scope.get("headers", []))
    return client in _LOOPBACK and not relayed


async def health(request: Request) -> JSONResponse:
    """The public sees each component's name and ok/down; error texts, socket paths and figures only
    on loopback (and in the admin panel, which calls check_health itself)."""
    report, ok = await check_health()
    body = report if from_loopback_directly(request) else public_report(report)
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


def metrics_allowed(request: Request) -> bool:
    """Loopback (a Prometheus on this machine), or the METRICS_TOKEN bearer from anywhere."""
    if from_loopback_directly(request):
        return True
    expected = get_settings().metrics_token.get_secret_value()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                                 expected.encode())


async def metrics(request: Request) -> Response:
    """Prometheus exposition (chatai/metrics.py); not public: bot counts and traffic are business data."""
    if not metrics_allowed(request):
        return Response("Metrics are available from this machine or with the metrics token.\n", status_code=403,
                        media_type="text/plain", headers={"WWW-Authenticate": "Bearer"})
    from chatai.metrics import CONTENT_TYPE, read_snapshot, render

    return Response(render(await read_snapshot()), media_type=CONTENT_TYPE,
                    headers={"Cache-Control": "no-store"})


def build_api() -> Starlette:
    routes: list = [Route("/health", health, methods=["GET"]), Route("/metrics", metrics, methods=["GET"]),
                    *auth_routes()]
    from chatai.bots.webhook import webhook_routes

    routes.extend(webhook_routes())
    routes.extend(payment_routes())
    routes.extend(widget_routes())
    return Starlette(routes=routes)


def _is_api_path(path: str) -> bool:
    return any(path.startswith(p) if p.endswith("/") else path == p for p in API_PATHS)


def with_api_routes(reflex_app: ASGIApp) -> ASGIApp:
    """Reflex's api_transformer: our routes first, everything else (and lifespan) to Reflex."""
    api = build_api()
    guarded_reflex = guard_uploads(reflex_app)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_api_path(scope.get("path", "")):
            await api(scope, receive, send)
        else:
            await guarded_reflex(scope, receive, send)

    return with_security_headers(guard_websocket_origin(app))  # CORS itself: rxconfig (origin_guard.py)
