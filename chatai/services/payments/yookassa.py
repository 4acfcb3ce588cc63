"""YooKassa (https://yookassa.ru/developers/api): create a payment, read a payment.

POST {api}/payments with HTTP Basic shopId:secretKey and an Idempotence-Key header (our top-up id, so a
retried request never creates a second payment); amounts are decimal strings ("500.00"); capture=true
(one-stage payment); confirmation type redirect with our return_url; a 54-FZ receipt with one item;
metadata carries our top-up id. GET {api}/payments/{id} is the only source of truth about a payment.

A payment id comes from outside (a notification body) and goes into that URL: it must have YooKassa's
shape (36 characters, hex groups 8-4-4-4-12, like "22d6d597-000f-5000-9000-145f6df21d6f") or nothing is
asked, and it is percent-quoted all the same, so `abc?x=1` or `../me` can never become a query or a path.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from chatai.db.models import MICRO
from chatai.services.billing import format_amount
from chatai.services.payments import MalformedPaymentId, Payment, ProviderError

PAYMENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def is_payment_id(value: str) -> bool:
    return isinstance(value, str) and PAYMENT_ID.fullmatch(value) is not None


def _micros(amount: dict[str, Any]) -> int:
    return int(Decimal(str(amount.get("value", "0"))) * MICRO)


def _payment(data: dict[str, Any]) -> Payment:
    try:
        amount = data.get("amount") or {}
        return Payment(id=str(data["id"]), status=str(data.get("status", "")), amount_micros=_micros(amount),
                       currency=str(amount.get("currency", "")),
                       confirmation_url=str((data.get("confirmation") or {}).get("confirmation_url", "")),
                       metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()})
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ProviderError("unexpected payment object") from exc


class YooKassa:
    name = "yookassa"

    def __init__(self, *, shop_id: str, secret_key: str, api_url: str, timeout: float = 15.0) -> None:
        self._auth = httpx.BasicAuth(shop_id, secret_key)
        self._api = api_url.rstrip("/")
        self._timeout = timeout

    async def _request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=self._timeout) as client:
                response = await client.request(method, f"{self._api}{path}", **kw)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            # The body names the problem (never contains our secret); keep it short in logs.
            raise ProviderError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"{method} {path}: not JSON") from exc

    async def create_payment(self, *, topup_id: uuid.UUID, amount_micros: int, currency: str, description: str,
                             return_url: str, customer_email: str) -> Payment:
        amount = {"value": format_amount(amount_micros), "currency": currency}
        body = {
            "amount": amount,
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": description[:128],
            "metadata": {"topup_id": str(topup_id)},
            "receipt": {
                "customer": {"email": customer_email},
                "items": [{"description": description[:128], "quantity": "1.00", "amount": amount, "vat_code": 1,
                           "payment_mode": "full_prepayment", "payment_subject": "service"}],
            },
        }
        data = await self._request("POST", "/payments", json=body, headers={"Idempotence-Key": str(topup_id)})
        return _payment(data)

    async def get_payment(self, payment_id: str) -> Payment:
        if not is_payment_id(payment_id):
            raise MalformedPaymentId("not a YooKassa payment id")
        return _payment(await self._request("GET", f"/payments/{quote(payment_id, safe='')}"))
