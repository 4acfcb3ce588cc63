"""Plain HTTP routes beside the Reflex app: health and (from the bots package) Telegram webhooks.

They are dispatched by path in front of the Reflex ASGI app rather than by mounting Reflex inside a
Starlette app: a mounted app never receives the lifespan events, and Reflex's lifespan starts the
ingest worker and the bot runner.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from chatai.health import check_health

WEBHOOK_PREFIX = "/telegram/webhook/"


async def health(request: Request) -> JSONResponse:
    report, ok = await check_health()
    return JSONResponse(report, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


def build_api() -> Starlette:
    routes: list = [Route("/health", health, methods=["GET"])]
    from chatai.bots.webhook import webhook_routes

    routes.extend(webhook_routes())
    return Starlette(routes=routes)


def with_api_routes(reflex_app: ASGIApp) -> ASGIApp:
    """Reflex's api_transformer: our routes first, everything else (and lifespan) to Reflex."""
    api = build_api()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/health" or path.startswith(WEBHOOK_PREFIX)):
            await api(scope, receive, send)
        else:
            await reflex_app(scope, receive, send)

    return app
