"""The sign-in session: an HttpOnly cookie, read from the WebSocket handshake, never in Reflex state.

Why not `rx.Cookie`: Reflex keeps state vars (and, by default, the handshake's request headers, cookie
included) in its state manager, which writes them to disk (`.states/*.pkl`) or Redis; a raw session
token there can be replayed by anyone who reads those files. Here the browser holds the token in an
HttpOnly cookie that page scripts cannot read; when a tab opens its WebSocket, the handshake carries
the cookie, and this module moves the token out of the connection's headers into a map held only in
this process's memory, keyed by the socket id. Events on that socket are processed by this same
process, so `token_for_sid(state.router.session.session_id)` is all a handler needs. After a restart
the browser reconnects and the handshake brings the cookie again.

The cookie is set and cleared by two small HTTP routes (`/auth/session`, `/auth/signout`), because a
WebSocket event cannot set an HttpOnly cookie (see services/signin_handover.py). `/auth/session` sets it
only for the browser that asked: its one-time ticket opens with the handover cookie that the asking tab set
just before (`handover_script`), never with the address alone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatai.settings import get_settings

COOKIE_NAME = "chatai_session"
# A password-reset link's token, moved from the mailed URL into a cookie by /auth/reset so that it never
# sits in a page address (which Reflex keeps in state) and reaches the reset page like the session does.
RESET_COOKIE = "chatai_reset"
RESET_PAGE = "/reset-password"
RESET_TTL_SECONDS = 3600
# A team invitation link's token (chatai/team/invitations.py), moved into a cookie by /auth/invite the same way.
INVITE_COOKIE = "chatai_invite"
INVITE_PAGE = "/invite"
INVITE_TTL_SECONDS = 7 * 24 * 3600
# The asking browser's half of a sign-in ticket (services/signin_handover.py). Over https the __Host- prefix
# makes browsers refuse the cookie from a sibling subdomain or without Secure, so no other site can plant it.
HANDOVER_COOKIE = "chatai_handover"
HANDOVER_COOKIE_HTTPS = "__Host-chatai_handover"
AUTH_PREFIX = "/auth/"
_tokens_by_sid: dict[str, str] = {}
_reset_tokens_by_sid: dict[str, str] = {}
_invite_tokens_by_sid: dict[str, str] = {}
# The sessions of file uploads in flight, by the Reflex client token the request names. An upload is an HTTP
# request that runs an event itself; it may reach a web worker other than the one holding the tab's WebSocket,
# and Reflex runs its handler from its own event queue (no context of the request reaches it). The upload
# guard (http_guards.py) puts the request's own cookie here for the request's duration; upload handlers read
# it with `upload_token` and nothing else (never the socket's session: an upload acts as whoever sent it,
# whatever tab it names), and no other event reads it.
_upload_sessions: dict[str, list[str]] = {}  # client token -> session tokens of its uploads in flight


@contextlib.contextmanager
def upload_session(client_token: str, token: str) -> Iterator[None]:
    """While an upload request runs: its handler acts as `token` (the request's verified cookie)."""
    in_flight = _upload_sessions.setdefault(client_token, [])
    in_flight.append(token)
    try:
        yield
    finally:
        in_flight.remove(token)
        if not in_flight:
            _upload_sessions.pop(client_token, None)


def upload_token(client_token: str) -> str:
    """The session of the newest upload in flight naming this tab ("" when none)."""
    in_flight = _upload_sessions.get(client_token) if client_token else None
    return in_flight[-1] if in_flight else ""


def token_for_sid(sid: str) -> str:
    return _tokens_by_sid.get(sid, "") if sid else ""


def bind(sid: str, token: str) -> None:
    """Associate a socket with a session token (the handshake does this; tests too)."""
    if token:
        _tokens_by_sid[sid] = token
    else:
        _tokens_by_sid.pop(sid, None)


def forget(sid: str) -> None:
    _tokens_by_sid.pop(sid, None)
    _reset_tokens_by_sid.pop(sid, None)
    _invite_tokens_by_sid.pop(sid, None)


def invite_token_for_sid(sid: str) -> str:
    return _invite_tokens_by_sid.get(sid, "") if sid else ""


def bind_invite(sid: str, token: str) -> None:
    if token:
        _invite_tokens_by_sid[sid] = token
    else:
        _invite_tokens_by_sid.pop(sid, None)


def reset_token_for_sid(sid: str) -> str:
    return _reset_tokens_by_sid.get(sid, "") if sid else ""


def bind_reset(sid: str, token: str) -> None:
    if token:
        _reset_tokens_by_sid[sid] = token
    else:
        _reset_tokens_by_sid.pop(sid, None)


def cookie_value(cookie_header: str, name: str = COOKIE_NAME) -> str:
    if not cookie_header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def install() -> None:
    """Patch Reflex's WebSocket namespace: take the cookie out of each connection's headers (so it
    never reaches state) and remember the session token by socket id; forget it on disconnect."""
    from reflex.app import EventNamespace
    from reflex_base import constants

    if getattr(EventNamespace, "_chatai_session_cookie", False):
        return
    build_router_data = EventNamespace._build_static_router_data
    on_disconnect = EventNamespace.on_disconnect

    def _build_static_router_data(self, sid, environ):  # noqa: ANN001, ANN202 - Reflex's signature
        data = build_router_data(self, sid, environ)
        headers = data.get(constants.RouteVar.HEADERS) or {}
        cookies = headers.pop("cookie", "")
        bind(sid, cookie_value(cookies))
        bind_reset(sid, cookie_value(cookies, RESET_COOKIE))
        bind_invite(sid, cookie_value(cookies, INVITE_COOKIE))
        return data

    def _on_disconnect(self, sid):  # noqa: ANN001, ANN202
        forget(sid)
        return on_disconnect(self, sid)

    EventNamespace._build_static_router_data = _build_static_router_data
    EventNamespace.on_disconnect = _on_disconnect
    EventNamespace._chatai_session_cookie = True


# --- HTTP routes -------------------------------------------------------------------------------


def _safe_next(value: str | None, default: str) -> str:
    """Only a path on this site (no scheme, no host, no '//' or backslash tricks)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return default
    return value


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().public_url.startswith("https://")


def session_url(ticket: str, next_path: str) -> str:
    return f"{AUTH_PREFIX}session?ticket={quote(ticket)}&next={quote(next_path)}"


def handover_script(ticket: str, browser_key: str, next_path: str) -> str:
    """What the asking tab runs: keep the browser key in a 60-second SameSite=Strict cookie of this site (a
    script may set it: it is worth nothing without the ticket, and this tab holds both anyway), then load
    /auth/session (a full page load: Reflex's redirect would navigate client-side and never reach the route).
    """
    from chatai.services.signin_handover import TICKET_TTL_SECONDS

    key, url = json.dumps(browser_key), json.dumps(session_url(ticket, next_path))
    return ("(function(){var s=window.location.protocol==='https:';"
            f"document.cookie=(s?{json.dumps(HANDOVER_COOKIE_HTTPS)}:{json.dumps(HANDOVER_COOKIE)})+'='+{key}"
            f"+'; Path=/; Max-Age={TICKET_TTL_SECONDS}; SameSite=Strict'+(s?'; Secure':'');"
            f"window.location.replace({url});}})()")


def _handover_cookie(request: Request) -> str:
    """Over https only the __Host- cookie counts: a plain one could come from a sibling subdomain."""
    return HANDOVER_COOKIE_HTTPS if _secure(request) else HANDOVER_COOKIE


async def start_session_route(request: Request) -> Response:
    from chatai.services.signin_handover import redeem_ticket

    handover_cookie = _handover_cookie(request)
    token = await redeem_ticket(request.query_params.get("ticket", ""), request.cookies.get(handover_cookie, ""))
    if token is None:
        response = RedirectResponse("/signin", status_code=303, headers={"Cache-Control": "no-store"})
    else:
        response = RedirectResponse(_safe_next(request.query_params.get("next"), "/"), status_code=303,
                                    headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE_NAME, token, max_age=get_settings().session_ttl_hours * 3600, path="/",
                            httponly=True, samesite="strict", secure=_secure(request))
    if handover_cookie in request.cookies:  # used or useless: either way it goes
        response.delete_cookie(handover_cookie, path="/", samesite="strict", secure=_secure(request))
    return response


async def sign_out_route(request: Request) -> Response:
    from chatai.db.session import async_session
    from chatai.services import accounts

    token = request.cookies.get(COOKIE_NAME, "")
    if token:
        async with async_session() as session:
            await accounts.sign_out(session, token=token)
    response = RedirectResponse("/signin", status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


async def verify_email_route(request: Request) -> Response:
    """The link in the verification mail (services/mailed_links.verify_email): works once, then says so."""
    from chatai.db.session import async_session
    from chatai.services import mailed_links

    async with async_session() as session:
        ok = await mailed_links.verify_email(session, token=request.query_params.get("token", ""))
    notice = "email_verified" if ok else "email_link_invalid"
    return RedirectResponse(f"/signin?notice={notice}", status_code=303,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def reset_link_route(request: Request) -> Response:
    """The link in the reset mail: the token goes into a short-lived HttpOnly cookie, the browser to the
    reset page (whose handlers read it from the WebSocket handshake)."""
    token = request.query_params.get("token", "")[:200]
    response = RedirectResponse(RESET_PAGE, status_code=303,
                                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    # Lax: the mailed link is a navigation from another site (the mail client), and the page it leads to
    # must see the cookie.
    response.set_cookie(RESET_COOKIE, token, max_age=RESET_TTL_SECONDS, path="/", httponly=True, samesite="lax",
                        secure=_secure(request))
    return response


async def invite_link_route(request: Request) -> Response:
    """The link in a team invitation: the token goes into an HttpOnly cookie (as /auth/reset does), the browser
    to the invitation page (chatai/web/pages/team_invite.py)."""
    token = request.query_params.get("token", "")[:200]
    response = RedirectResponse(INVITE_PAGE, status_code=303,
                                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    response.set_cookie(INVITE_COOKIE, token, max_age=INVITE_TTL_SECONDS, path="/", httponly=True, samesite="lax",
                        secure=_secure(request))
    return response


async def reset_done_route(request: Request) -> Response:
    """After a reset: the used token's cookie goes, the browser to the sign-in page with the notice."""
    response = RedirectResponse("/signin?notice=password_reset", status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(RESET_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def auth_routes() -> list[Route]:
    return [Route(f"{AUTH_PREFIX}session", start_session_route, methods=["GET"]),
            Route(f"{AUTH_PREFIX}signout", sign_out_route, methods=["GET"]),
            Route(f"{AUTH_PREFIX}verify", verify_email_route, methods=["GET"]),
            Route(f"{AUTH_PREFIX}reset", reset_link_route, methods=["GET"]),
            Route(f"{AUTH_PREFIX}reset/done", reset_done_route, methods=["GET"]),
            Route(f"{AUTH_PREFIX}invite", invite_link_route, methods=["GET"])]
