"""A stand-in YooKassa API on 127.0.0.1 for tests (and browser tests).

Speaks the part of https://yookassa.ru/developers/api that ChatAI uses: POST /v3/payments (HTTP Basic
shopId:secretKey, Idempotence-Key required and honoured, amount as a decimal string, capture, redirect
confirmation, receipt), GET /v3/payments/{id}. Its confirmation page (/confirm/{id}) has "Pay" and
"Cancel" buttons: either settles the payment, posts the notification to `webhook_url` (like YooKassa,
the body is not signed) and redirects to the payment's return_url. Tests can also change a payment
(`set_status`, `set_amount`) or send notifications themselves (`notify`).
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

SHOP_ID = "123456"
SECRET_KEY = "test_secret_key_not_real"


@dataclass
class FakeYooKassa:
    shop_id: str = SHOP_ID
    secret_key: str = SECRET_KEY
    webhook_url: str = ""
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every API call: method, path, headers, body
    notifications: list[dict[str, Any]] = field(default_factory=list)  # what was posted to the webhook
    _by_key: dict[str, str] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/v3"

    def start(self) -> FakeYooKassa:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-yookassa").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- test controls ---------------------------------------------------------------------------

    def set_status(self, payment_id: str, status: str) -> None:
        with self._lock:
            self.payments[payment_id]["status"] = status
            self.payments[payment_id]["paid"] = status == "succeeded"

    def set_amount(self, payment_id: str, value: str, currency: str = "RUB") -> None:
        with self._lock:
            self.payments[payment_id]["amount"] = {"value": value, "currency": currency}

    def notification(self, payment_id: str, event: str | None = None) -> dict[str, Any]:
        payment = self.payments[payment_id]
        return {"type": "notification", "event": event or f"payment.{payment['status']}", "object": dict(payment)}

    def notify(self, payment_id: str, event: str | None = None, url: str | None = None) -> int:
        body = json.dumps(self.notification(payment_id, event)).encode()
        self.notifications.append(json.loads(body))
        request = urllib.request.Request(url or self.webhook_url, data=body, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def last_payment(self) -> dict[str, Any]:
        return list(self.payments.values())[-1]


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeYooKassa

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any = None, *, html: str | None = None,
              headers: dict[str, str] | None = None) -> None:
        data = html.encode() if html is not None else json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if html is not None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        fake = self.server_fake
        expected = "Basic " + base64.b64encode(f"{fake.shop_id}:{fake.secret_key}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        fake = self.server_fake
        if self.path.startswith("/confirm/"):
            return self._confirm_action()
        raw = self._body()
        fake.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers),
                              "body": json.loads(raw or b"{}")})
        if self.path != "/v3/payments":
            return self._send(404, {"type": "error", "code": "not_found"})
        if not self._authorized():
            return self._send(401, {"type": "error", "code": "invalid_credentials"})
        key = self.headers.get("Idempotence-Key")
        if not key:
            return self._send(400, {"type": "error", "code": "invalid_request", "parameter": "Idempotence-Key"})
        body = json.loads(raw)
        amount = body.get("amount") or {}
        value = str(amount.get("value", ""))
        if "." not in value or len(value.split(".")[1]) != 2 or not body.get("receipt", {}).get("items"):
            return self._send(400, {"type": "error", "code": "invalid_request"})
        with fake._lock:
            if key in fake._by_key:
                return self._send(200, fake.payments[fake._by_key[key]])
            payment_id = f"2{uuid.uuid4().hex[:7]}-000f-5000-9000-{uuid.uuid4().hex[:12]}"
            payment = {
                "id": payment_id, "status": "pending", "paid": False, "amount": amount,
                "confirmation": {"type": "redirect", "confirmation_url": f"{fake.url}/confirm/{payment_id}",
                                 "return_url": body["confirmation"]["return_url"]},
                "description": body.get("description", ""), "metadata": body.get("metadata", {}),
                "created_at": "2026-11-29T12:00:00.000Z", "test": True,
            }
            fake.payments[payment_id] = payment
            fake._by_key[key] = payment_id
        return self._send(200, payment)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        fake = self.server_fake
        if self.path.startswith("/confirm/"):
            payment = fake.payments.get(self.path.split("/")[2])
            if payment is None:
                return self._send(404, html="<p>No such payment</p>")
            pid = payment["id"]
            return self._send(200, html=(
                f"<html><body><h1>Test payment {payment['amount']['value']} {payment['amount']['currency']}</h1>"
                f"<form method='post' action='/confirm/{pid}?action=succeed'><button id='pay'>Pay</button></form>"
                f"<form method='post' action='/confirm/{pid}?action=cancel'><button id='cancel'>Cancel</button>"
                "</form></body></html>"))
        fake.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
        if not self._authorized():
            return self._send(401, {"type": "error", "code": "invalid_credentials"})
        path = urlsplit(self.path).path  # as YooKassa reads it: `?x=1` is a query, not part of the id
        if path.startswith("/v3/payments/"):
            payment = fake.payments.get(unquote(path.rsplit("/", 1)[1]))
            if payment is None:
                return self._send(404, {"type": "error", "code": "not_found"})
            return self._send(200, payment)
        return self._send(404, {"type": "error", "code": "not_found"})

    def _confirm_action(self) -> None:
        fake = self.server_fake
        self._body()
        pid = self.path.split("/")[2].split("?")[0]
        payment = fake.payments.get(pid)
        if payment is None:
            return self._send(404, html="<p>No such payment</p>")
        succeed = self.path.endswith("action=succeed")
        fake.set_status(pid, "succeeded" if succeed else "canceled")
        if fake.webhook_url:
            fake.notify(pid)
        return self._send(302, html="", headers={"Location": payment["confirmation"]["return_url"]})


try:
    import pytest

    @pytest.fixture
    def fake_yookassa(monkeypatch: pytest.MonkeyPatch):
        """A running stand-in; the YOOKASSA_* settings point at it for this test."""
        from chatai.settings import get_settings

        server = FakeYooKassa().start()
        monkeypatch.setenv("YOOKASSA_SHOP_ID", server.shop_id)
        monkeypatch.setenv("YOOKASSA_SECRET_KEY", server.secret_key)
        monkeypatch.setenv("YOOKASSA_API_URL", server.api_url)
        get_settings.cache_clear()
        try:
            yield server
        finally:
            server.stop()
            for name in ("YOOKASSA_SHOP_ID", "YOOKASSA_SECRET_KEY", "YOOKASSA_API_URL"):
                monkeypatch.delenv(name, raising=False)
            get_settings.cache_clear()
except ImportError:  # pragma: no cover
    pass
