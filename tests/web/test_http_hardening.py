"""HTTP hardening: what /health shows the public, security headers on every response, and the upload
endpoint refusing anonymous, misdirected and oversized bodies before reading them."""

from __future__ import annotations

import httpx
import pytest

import chatai.chatai  # noqa: F401 - registers the page states (upload handler names resolve)
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.web import http_guards
from chatai.web.api import build_api, with_api_routes
from chatai.web.session_cookie import COOKIE_NAME
from chatai.web.state.knowledge import KnowledgeState

UPLOAD_HANDLER = f"{KnowledgeState.get_full_name()}.handle_upload"


def _client(app, client=("203.0.113.7", 40000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://test")


async def test_public_health_shows_only_names_and_ok_or_down(db):
    async with _client(build_api()) as client:
        body = (await client.get("/health")).json()
    assert body == {"status": "ok", "components": {"database": "ok", "redis": "ok", "bot_runner": "ok"}}


async def test_health_through_a_local_proxy_is_public_too(db):
    async with _client(build_api(), client=("127.0.0.1", 5000)) as client:
        body = (await client.get("/health", headers={"X-Forwarded-For": "198.51.100.1"})).json()
    assert body["components"]["database"] == "ok"


async def test_health_details_on_loopback(db):
    async with _client(build_api(), client=("127.0.0.1", 5000)) as client:
        body = (await client.get("/health")).json()
    assert body["components"]["database"]["revision"]


async def test_public_health_hides_error_text_when_down(db, monkeypatch, tmp_path):
    from chatai.cache import reset_redis
    from chatai.settings import get_settings

    monkeypatch.setattr(get_settings(), "redis_url", f"unix://{tmp_path}/nothing.sock")
    reset_redis()
    async with _client(build_api()) as client:
        response = await client.get("/health")
    reset_redis()
    assert response.status_code == 503
    assert response.json()["components"]["redis"] == "down"
    assert str(tmp_path) not in response.text and "Error" not in response.text


class _Recorder:
    """A stand-in for the Reflex app: records how much body it read."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b""

    async def __call__(self, scope, receive, send):
        self.calls += 1
        if scope["type"] == "http" and scope["method"] == "POST":
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RuntimeError("client went away")
                self.body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


async def test_every_response_carries_security_headers():
    async with _client(with_api_routes(_Recorder())) as client:
        response = await client.get("/dashboard")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.fixture
async def owner_token(db):
    async with async_session() as session:
        return await accounts.sign_up(session, email="up@example.com", password="an upload password")


def _upload_headers(token: str = "", handler: str = UPLOAD_HANDLER) -> dict[str, str]:
    headers = {"Reflex-Client-Token": "tab", "Reflex-Event-Handler": handler,
               "Content-Type": "multipart/form-data; boundary=x"}
    if token:
        headers["Cookie"] = f"{COOKIE_NAME}={token}"
    return headers


async def test_upload_without_a_session_is_refused_before_reading(db):
    app = _Recorder()
    async with _client(http_guards.guard_uploads(app)) as client:
        response = await client.post("/_upload", content=b"x" * 1000, headers=_upload_headers())
    assert response.status_code == 401
    assert app.calls == 0


async def test_upload_to_an_unknown_handler_is_4xx(owner_token):
    app = _Recorder()
    async with _client(http_guards.guard_uploads(app)) as client:
        response = await client.post("/_upload", content=b"x", headers=_upload_headers(owner_token, "state.nope.x"))
    assert response.status_code == 404
    assert app.calls == 0


async def test_upload_declaring_too_large_a_body_is_refused(owner_token, monkeypatch):
    monkeypatch.setattr(http_guards, "max_upload_body_bytes", lambda: 1000)
    app = _Recorder()
    async with _client(http_guards.guard_uploads(app)) as client:
        response = await client.post("/_upload", content=b"x" * 5000, headers=_upload_headers(owner_token))
    assert response.status_code == 413
    assert app.calls == 0


async def test_streamed_upload_is_cut_off_at_the_limit(owner_token, monkeypatch):
    monkeypatch.setattr(http_guards, "max_upload_body_bytes", lambda: 10_000)
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(1000):  # 4 MB offered, no Content-Length
            sent += 4096
            yield b"y" * 4096

    app = _Recorder()
    async with _client(http_guards.guard_uploads(app)) as client:
        response = await client.post("/_upload", content=chunks(), headers=_upload_headers(owner_token))
    assert response.status_code == 413
    assert len(app.body) <= 10_000


async def test_upload_within_limits_reaches_the_app(owner_token):
    app = _Recorder()
    async with _client(http_guards.guard_uploads(app)) as client:
        response = await client.post("/_upload", content=b"z" * 100, headers=_upload_headers(owner_token))
    assert response.status_code == 200 and app.body == b"z" * 100


def test_request_client_trusts_forwarded_for_only_through_configured_hops(monkeypatch):
    from chatai.settings import get_settings

    scope = {"client": ("127.0.0.1", 1), "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.5")]}
    monkeypatch.setattr(get_settings(), "trusted_proxy_hops", 0)
    assert http_guards.request_client(scope) == "127.0.0.1"  # a client's own header is ignored
    monkeypatch.setattr(get_settings(), "trusted_proxy_hops", 1)
    assert http_guards.request_client(scope) == "203.0.113.5"  # what our one proxy saw, not what was sent


async def test_payment_webhook_refuses_an_oversized_body_without_reading_it(db):
    from chatai.web.payments_api import YOOKASSA_WEBHOOK

    read = 0

    async def body():
        nonlocal read
        for _ in range(1000):
            read += 8192
            yield b"{" * 8192

    async with _client(build_api()) as client:
        response = await client.post(YOOKASSA_WEBHOOK, content=body())
    assert response.status_code == 413
    assert read < 1000 * 8192
