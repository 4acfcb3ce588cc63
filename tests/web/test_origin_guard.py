"""Cross-origin: the app answers CORS only for its own origin, and refuses a WebSocket handshake from a page
of another site (issue 19: any Origin was echoed with credentials, and `Origin: http://evil.example` got
an event socket that served the owner's billing state).

The app is the real one (chatai.chatai:app, as `reflex run --env prod` serves it: granian, compile
skipped) in a process of its own on the test run's database and Redis, reached by real HTTP and
WebSocket clients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import simple_websocket

from chatai.settings import get_settings
from chatai.web import origin_guard
from chatai.web.session_cookie import COOKIE_NAME
from tests.backend_app import serve_backend

EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    with serve_backend(tmp_path_factory.mktemp("origin-app")) as url:
        yield url


@pytest.fixture
async def owner_cookie(db) -> str:
    """A real session cookie of a signed-up owner (the cookie a victim's browser would send)."""
    from chatai.db.session import async_session
    from chatai.services import accounts

    async with async_session() as session:
        token = await accounts.sign_up(session, email="victim@example.com", password="a cross-site password")
    return f"{COOKIE_NAME}={token}"


def _event_url(app_url: str) -> str:
    return app_url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"


def _handshake(app_url: str, headers: dict[str, str]) -> str:
    """The first engine.io packet on an accepted socket ("0{...}" open), or raises on a refused handshake."""
    ws = simple_websocket.Client.connect(_event_url(app_url), headers=headers)
    try:
        return ws.receive(timeout=30)
    finally:
        ws.close()


def test_websocket_from_another_site_is_refused_even_with_a_valid_cookie(app_url, owner_cookie):
    with pytest.raises(simple_websocket.ConnectionError) as refused:
        _handshake(app_url, {"Origin": EVIL, "Cookie": owner_cookie})
    assert refused.value.status_code == 403


def test_websocket_from_null_origin_is_refused(app_url):
    with pytest.raises(simple_websocket.ConnectionError) as refused:
        _handshake(app_url, {"Origin": "null"})
    assert refused.value.status_code == 403


def test_websocket_from_the_apps_own_origin_is_accepted(app_url, owner_cookie):
    packet = _handshake(app_url, {"Origin": app_url, "Cookie": owner_cookie})
    assert packet.startswith("0{") and '"sid"' in packet  # engine.io's open packet: the socket is up


def test_websocket_without_origin_is_a_non_browser_client_and_accepted(app_url):
    assert _handshake(app_url, {}).startswith("0{")


def test_responses_carry_cors_only_for_the_apps_own_origin(app_url, owner_cookie):
    foreign = httpx.get(f"{app_url}/ping", headers={"Origin": EVIL, "Cookie": owner_cookie})
    own = httpx.get(f"{app_url}/ping", headers={"Origin": app_url, "Cookie": owner_cookie})
    assert foreign.status_code == 200 and "access-control-allow-origin" not in foreign.headers
    assert own.headers["access-control-allow-origin"] == app_url
    # Our own routes sit behind the same CORS answer.
    health = httpx.get(f"{app_url}/health", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in health.headers


@pytest.mark.parametrize("path", ["/_upload", "/auth/session", "/ping"])
def test_preflight_from_another_site_is_refused(app_url, path):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "reflex-client-token,reflex-event-handler"}
    foreign = httpx.options(f"{app_url}{path}", headers={"Origin": EVIL, **preflight})
    own = httpx.options(f"{app_url}{path}", headers={"Origin": app_url, **preflight})
    assert foreign.status_code == 400 and "access-control-allow-origin" not in foreign.headers
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == app_url
    assert own.headers["access-control-allow-credentials"] == "true"


def test_dashboard_origins_of_a_server_install_are_its_public_url_only():
    settings = get_settings().model_copy(update={"public_url": "https://Support.Example.com:443/app"})
    assert origin_guard.dashboard_origins(settings) == ("https://support.example.com",)


def test_dashboard_origins_of_a_local_install_name_every_loopback_alias():
    settings = get_settings().model_copy(update={"public_url": "http://localhost:3000", "port": 3000})
    assert origin_guard.dashboard_origins(settings) == (
        "http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000")


def test_origin_allowed_compares_normalised_origins_and_consults_the_public_route_hook(monkeypatch):
    monkeypatch.setattr(get_settings(), "public_url", "https://support.example.com")
    assert origin_guard.origin_allowed("HTTPS://support.example.com:443", "/_event/")
    assert not origin_guard.origin_allowed("https://support.example.com.evil.example", "/_event/")
    assert not origin_guard.origin_allowed("https://support.example.com@evil.example", "/_event/")
    assert not origin_guard.origin_allowed("https://support.example.com:8443", "/_event/")  # another port
    assert not origin_guard.origin_allowed("http://support.example.com", "/_event/")  # another scheme
    assert not origin_guard.origin_allowed("null", "/_event/")
    assert origin_guard.origin_allowed(None, "/_event/")
    monkeypatch.setattr(origin_guard, "public_route_origins",
                        lambda path: ("https://shop.example",) if path.startswith("/widget/") else None)
    assert origin_guard.origin_allowed("https://shop.example", "/widget/socket")
    assert not origin_guard.origin_allowed("https://shop.example", "/_event/")
    assert not origin_guard.origin_allowed("https://support.example.com", "/widget/socket")


async def test_websocket_guard_refuses_before_the_app_sees_the_socket(monkeypatch):
    """The guard alone (whatever socket.io's own origin settings are): a foreign Origin never reaches the app."""
    monkeypatch.setattr(get_settings(), "public_url", "https://support.example.com")
    reached: list[str] = []
    sent: list[dict] = []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    async def send(message):
        sent.append(message)

    guarded = origin_guard.guard_websocket_origin(app)
    for origin in (b"http://evil.example", b"https://support.example.com"):
        scope = {"type": "websocket", "path": "/_event/", "headers": [(b"origin", origin)]}
        await guarded(scope, None, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == ["/_event/"]  # only the app's own origin got through
