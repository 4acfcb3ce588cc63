"""The payment provider's notification webhook (plain HTTP, beside the Reflex app).

YooKassa notifications are not signed, so the body is only a hint: it names a payment, which is re-read
from the provider's API and credited only if it succeeded with our pending top-up's amount and currency,
once (services/payments.confirm_payment). An optional source-IP allow-list (YOOKASSA_WEBHOOK_IPS) cuts noise.
Answers 200 for anything handled or irrelevant (so the provider stops retrying) and 503 when the API could
not be asked (so it retries later).
"""

from __future__ import annotations

import ipaddress
import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatai.settings import get_settings
from chatai.web.http_guards import read_body_capped, request_client

log = logging.getLogger(__name__)

PAYMENTS_PREFIX = "/payments/"
YOOKASSA_WEBHOOK = "/payments/yookassa/webhook"
MAX_BODY = 64 * 1024
HANDLED_EVENTS = ("payment.succeeded", "payment.canceled")


def _ip_allowed(host: str) -> bool:
    allowed = [part.strip() for part in get_settings().yookassa_webhook_ips.split(",") if part.strip()]
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(host)
        return any(address in ipaddress.ip_network(net, strict=False) for net in allowed)
    except ValueError:
        return False


async def yookassa_webhook(request: Request) -> JSONResponse:
    from chatai.db.session import async_session
    from chatai.services.payments import ProviderError, confirm_payment, get_provider
    from chatai.services.payments.yookassa import is_payment_id

    if not _ip_allowed(request_client(request.scope)):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    raw = await read_body_capped(request.receive, MAX_BODY)
    if raw is None:
        return JSONResponse({"error": "too large"}, status_code=413)
    try:
        body = json.loads(raw)
        event, payment_id = str(body.get("event", "")), str((body.get("object") or {}).get("id", ""))
    except (ValueError, AttributeError, TypeError):
        return JSONResponse({"error": "bad request"}, status_code=400)
    if event not in HANDLED_EVENTS or not payment_id:
        return JSONResponse({"ok": True, "ignored": True})
    if not is_payment_id(payment_id):  # before the provider is asked: it goes into the provider's URL
        log.warning("payment notification refused: the payment id is not of YooKassa's shape")
        return JSONResponse({"error": "bad payment id"}, status_code=400)
    provider = get_provider()
    if provider is None:
        return JSONResponse({"error": "payments not set up"}, status_code=404)
    try:
        async with async_session() as session:
            outcome = await confirm_payment(session, payment_id=payment_id, provider=provider)
    except ProviderError as exc:
        log.warning("payment notification: payment not re-read: %s", exc)
        return JSONResponse({"error": "try again"}, status_code=503)
    return JSONResponse({"ok": True, "outcome": outcome})


def payment_routes() -> list[Route]:
    return [Route(YOOKASSA_WEBHOOK, yookassa_webhook, methods=["POST"])]
