"""Plain HTTP routes beside the Reflex app: health and (from the bots package) Telegram webhooks."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatai.health import check_health


async def health(request: Request) -> JSONResponse:
    report, ok = await check_health()
    return JSONResponse(report, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


def build_api() -> Starlette:
    routes: list = [Route("/health", health, methods=["GET"])]
    try:
        from chatai.bots.webhook import webhook_routes
    except ModuleNotFoundError:
        pass
    else:
        routes.extend(webhook_routes())
    return Starlette(routes=routes)
