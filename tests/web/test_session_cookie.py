"""The session token never sits in Reflex state (which Reflex persists to disk or Redis), nor in Redis:
it is an HttpOnly cookie, read from the WebSocket handshake into process memory."""

from __future__ import annotations

import pickle
import uuid

import httpx
import pytest
from reflex.app import EventNamespace
from reflex_base import constants

import chatai.chatai  # noqa: F401 - installs the handshake patch, registers the states
from chatai.cache import get_redis
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.signin_handover import issue_ticket, redeem_ticket
from chatai.web import session_cookie
from chatai.web.api import build_api
from chatai.web.state.auth import AuthState
from tests.web.clients import signed_in_root


def _environ(cookie: str) -> dict:
    headers = [(b"host", b"x"), (b"cookie", cookie.encode())] if cookie else [(b"host", b"x")]
    return {"asgi.scope": {"headers": headers, "client": ("203.0.113.9", 1234)}}


def test_handshake_takes_the_cookie_out_of_the_connection_headers():
    sid = uuid.uuid4().hex
    namespace = EventNamespace.__new__(EventNamespace)
    data = namespace._build_static_router_data(sid, _environ(f"other=1; {session_cookie.COOKIE_NAME}=tok-123"))
    assert "cookie" not in data[constants.RouteVar.HEADERS]
    assert session_cookie.token_for_sid(sid) == "tok-123"
    session_cookie.forget(sid)
    assert session_cookie.token_for_sid(sid) == ""


async def test_a_signed_in_state_tree_pickles_without_the_token(db):
    async with async_session() as session:
        token = await accounts.sign_up(session, email="pickle@example.com", password="a brined cucumber")
    root = await signed_in_root(token)
    auth = await root.get_state(AuthState)
    assert (await auth.current_user()).email == "pickle@example.com"
    dumped = b"".join(pickle.dumps(state) for state in [root, *root.substates.values()])
    assert b"pickle@example.com" in dumped  # the dump is real
    assert token.encode() not in dumped


async def test_handover_ticket_works_once_and_redis_holds_nothing_replayable(db):
    handover = await issue_ticket("the-session-token")
    stored = [await get_redis().get(k) async for k in get_redis().scan_iter("auth:handover:*")]
    assert stored and all("the-session-token" not in v and handover.ticket not in v and handover.browser_key not in v
                          for v in stored)
    assert await redeem_ticket(handover.ticket, handover.browser_key) == "the-session-token"
    assert await redeem_ticket(handover.ticket, handover.browser_key) is None
    assert await redeem_ticket("forged", handover.browser_key) is None


async def test_a_ticket_opens_only_with_the_asking_browsers_key(db):
    handover = await issue_ticket("the-session-token")
    assert await redeem_ticket(handover.ticket, "") is None
    assert await redeem_ticket(handover.ticket, "another-browsers-key") is None
    # Tried elsewhere, the ticket is not used up: its own browser still gets its session.
    assert await redeem_ticket(handover.ticket, handover.browser_key) == "the-session-token"


def _http(base_url: str = "http://test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_api()), base_url=base_url)


def _browser(handover, cookie: str = session_cookie.HANDOVER_COOKIE) -> dict[str, str]:
    """The cookies of the browser that asked for the ticket (handover_script set this one)."""
    return {cookie: handover.browser_key}


async def test_session_route_sets_an_httponly_strict_cookie_and_redirects_on_site(db):
    handover = await issue_ticket("tok-abc")
    async with _http() as client:
        client.cookies.update(_browser(handover))
        response = await client.get(session_cookie.session_url(handover.ticket, "/dashboard/bots"))
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/bots"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("chatai_session="))
    assert "chatai_session=tok-abc" in session and "HttpOnly" in session and "SameSite=strict" in session
    assert any(c.startswith("chatai_handover=") and "Max-Age=0" in c for c in cookies)  # used: cleared


async def test_a_ticket_replayed_from_another_client_is_refused(db):
    """Login CSRF (issue 19): a stranger signs in to their own account and sends the ticket's address to a
    victim. The victim's browser has no handover cookie, or another one: no session is set."""
    handover = await issue_ticket("the-strangers-session")
    async with _http() as victim:
        bare = await victim.get(session_cookie.session_url(handover.ticket, "/dashboard"))
        victim.cookies.set(session_cookie.HANDOVER_COOKIE, "the-victims-own-key")
        keyed = await victim.get(session_cookie.session_url(handover.ticket, "/dashboard"))
    for response in (bare, keyed):
        assert response.headers["location"] == "/signin"
        assert not any(c.startswith("chatai_session=") for c in response.headers.get_list("set-cookie"))


async def test_over_https_only_the_host_prefixed_handover_cookie_counts(db):
    """Over https a plain `chatai_handover` cookie could have been planted from a sibling subdomain."""
    handover = await issue_ticket("tok-abc")
    async with _http("https://test") as client:
        client.cookies.update(_browser(handover))
        planted = await client.get(session_cookie.session_url(handover.ticket, "/"))
        client.cookies.clear()
        client.cookies.update(_browser(handover, session_cookie.HANDOVER_COOKIE_HTTPS))
        own = await client.get(session_cookie.session_url(handover.ticket, "/"))
    assert planted.headers["location"] == "/signin"
    session = next(c for c in own.headers.get_list("set-cookie") if c.startswith("chatai_session="))
    assert "Secure" in session


async def test_the_sign_in_answer_gives_the_key_to_the_tab_never_to_the_address(db):
    import re

    from chatai.web.state.auth import start_browser_session

    script = (await start_browser_session("tok-xyz", "/dashboard")).args[0][1]._var_value
    url = re.search(r'window\.location\.replace\("([^"]+)"\)', script).group(1)
    key = re.search(r"\+'='\+\"([^\"]+)\"", script).group(1)
    ticket = re.search(r"ticket=([^&]+)", url).group(1)
    assert key not in url and "SameSite=Strict" in script and "Max-Age=60" in script
    assert await redeem_ticket(ticket, "") is None
    assert await redeem_ticket(ticket, key) == "tok-xyz"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
async def test_session_route_never_redirects_off_site(db, target):
    handover = await issue_ticket("tok-abc")
    async with _http() as client:
        client.cookies.update(_browser(handover))
        response = await client.get(session_cookie.session_url(handover.ticket, target))
    assert response.headers["location"] == "/"


async def test_session_route_with_a_used_ticket_sets_nothing(db):
    handover = await issue_ticket("tok-abc")
    await redeem_ticket(handover.ticket, handover.browser_key)
    async with _http() as client:
        response = await client.get(session_cookie.session_url(handover.ticket, "/dashboard"))
    assert response.headers["location"] == "/signin" and "set-cookie" not in response.headers


async def test_signout_route_ends_the_session_and_clears_the_cookie(db):
    async with async_session() as session:
        token = await accounts.sign_up(session, email="bye@example.com", password="a farewell passphrase")
    async with _http() as client:
        response = await client.get("/auth/signout", cookies={session_cookie.COOKIE_NAME: token})
    assert response.headers["location"] == "/signin"
    assert 'chatai_session=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    async with async_session() as session:
        assert await accounts.user_for_token(session, token) is None


async def test_reset_link_moves_the_token_into_an_httponly_cookie_not_the_address(db):
    async with _http() as client:
        response = await client.get("/auth/reset?token=reset-tok-1")
    assert response.status_code == 303 and response.headers["location"] == session_cookie.RESET_PAGE
    cookie = response.headers["set-cookie"]
    assert "chatai_reset=reset-tok-1" in cookie and "HttpOnly" in cookie and "Max-Age=3600" in cookie
    sid = uuid.uuid4().hex
    namespace = EventNamespace.__new__(EventNamespace)
    namespace._build_static_router_data(sid, _environ("chatai_reset=reset-tok-1"))
    assert session_cookie.reset_token_for_sid(sid) == "reset-tok-1"
    session_cookie.forget(sid)
    async with _http() as client:
        done = await client.get("/auth/reset/done")
    assert done.headers["location"] == "/signin?notice=password_reset" and "chatai_reset=" in done.headers["set-cookie"]


async def test_an_upload_request_acts_as_its_own_cookie_whatever_tab_it_names(db):
    """An upload may reach a worker without the tab's socket, and its Reflex-Client-Token header is chosen by
    the sender: the upload handler acts as the request's cookie, never as the tab's owner, and no other event
    of that tab acts as the upload's sender."""
    from reflex.istate.data import SessionData

    async with async_session() as session:
        owner = await accounts.sign_up(session, email="tab.owner@example.com", password="quiet violet harbor 42")
        sender = await accounts.sign_up(session, email="sender@example.com", password="amber lantern 62 tides")
    root = await signed_in_root(owner)
    auth = await root.get_state(AuthState)
    auth.rx_router_session = SessionData(session_id=auth.router.session.session_id, client_token="tab-1")

    assert await auth.upload_user() is None  # no upload in flight: nobody
    with session_cookie.upload_session("tab-1", sender):
        assert (await auth.upload_user()).email == "sender@example.com"
        assert (await auth.current_user()).email == "tab.owner@example.com"  # the tab's other events
        with session_cookie.upload_session("tab-1", owner):  # two uploads naming the tab: the newest
            assert (await auth.upload_user()).email == "tab.owner@example.com"
        assert (await auth.upload_user()).email == "sender@example.com"
    assert await auth.upload_user() is None and session_cookie.upload_token("tab-1") == ""


async def test_upload_guard_hands_the_request_session_to_the_handler(db):
    from chatai.web import http_guards
    from chatai.web.state.knowledge import KnowledgeState

    async with async_session() as session:
        token = await accounts.sign_up(session, email="uploader@example.com", password="copper kettle 91 winds")
    seen = []

    async def handler_app(scope, receive, send):
        seen.append(session_cookie.upload_token("any-tab"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = http_guards.guard_uploads(handler_app)
    headers = {"Reflex-Client-Token": "any-tab", "Cookie": f"{session_cookie.COOKIE_NAME}={token}",
               "Reflex-Event-Handler": f"{KnowledgeState.get_full_name()}.handle_upload"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        await client.post("/_upload", content=b"x", headers=headers)
    assert seen == [token] and session_cookie.upload_token("any-tab") == ""  # only while the request runs
