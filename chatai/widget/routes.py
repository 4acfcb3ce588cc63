"""The visitor's HTTP API (Starlette routes beside Reflex, chatai/web/api.py registers them).

Every request is checked before anything is read: the assistant exists and its website channel is on, the
request comes from the panel itself (Origin = the app's own origin: the panel runs in the app's iframe,
so another site's page cannot call this API from a browser), the visitor token is this assistant's, and
the site the token was issued on is still on the owner's list. A refusal is a sentence in the visitor's
language, never the assistant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from chatai.db.models import Dialog
from chatai.db.session import async_session
from chatai.web.http_guards import request_client
from chatai.web.i18n import text
from chatai.web.origin_guard import dashboard_origins, origin_of
from chatai.widget import conversations as conv
from chatai.widget import frame, limits, sse
from chatai.widget.live import REGISTRY, ensure_subscriber
from chatai.widget.models import WidgetSettings
from chatai.widget.sites import site_allowed
from chatai.widget.store import get_widget
from chatai.widget.tokens import Visitor, issue_token, read_token

PREFIX = "/widget/"
MAX_BODY = 16 * 1024
_CLIENT_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass
class Caller:
    widget: WidgetSettings
    language: str
    address: str
    visitor: Visitor | None = None


class Refusal(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def refuse(language: str, key: str, status: int, **params: object) -> Refusal:
    return Refusal(JSONResponse({"error": text(language, key, **params)}, status_code=status,
                                headers={"Cache-Control": "no-store"}))


def _language(request: Request, widget: WidgetSettings | None) -> str:
    asked = request.query_params.get("lang", "")
    return frame.panel_language(widget.language if widget else "auto",
                                asked or request.headers.get("accept-language", ""))


async def check_caller(request: Request, *, need_visitor: bool = True) -> Caller:
    """Who is asking, or Refusal: see the module's docstring for the order of the checks."""
    language = _language(request, None)
    try:
        assistant_id = uuid.UUID(request.path_params["assistant_id"])
    except ValueError:
        raise refuse(language, "widget_panel_unavailable", 404) from None
    origin = request.headers.get("origin")
    if origin is not None and origin_of(origin) not in dashboard_origins():
        raise refuse(language, "widget_panel_unavailable", 403)
    async with async_session() as session:
        widget = await get_widget(session, assistant_id=assistant_id)
    if widget is None or not widget.enabled:
        raise refuse(language, "widget_panel_unavailable", 404)
    caller = Caller(widget, _language(request, widget), request_client(request.scope) or "unknown")
    if need_visitor:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        visitor = read_token(token, assistant_id=assistant_id) if scheme.lower() == "bearer" else None
        if visitor is None or not site_allowed(visitor.site, widget.allowed_sites):
            raise refuse(caller.language, "widget_panel_unavailable", 403)
        caller.visitor = visitor
    return caller


async def _json(request: Request) -> dict:
    body = await request.body()
    if len(body) > MAX_BODY:
        return {}
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _guarded(handler):  # noqa: ANN001, ANN202 - a Starlette endpoint decorator
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refusal as refusal:
            return refusal.response
    endpoint.__name__ = handler.__name__
    return endpoint


@_guarded
async def start_session(request: Request) -> Response:
    """The panel opened: its visitor (a new one when the token is missing, bad or another assistant's), a
    fresh token (the 90-day clock restarts on every visit), and the current conversation so far.
    `{"new": true}` starts another conversation."""
    caller = await check_caller(request, need_visitor=False)
    body = await _json(request)
    site = str(body.get("site") or "").lower()[:255]
    if not site_allowed(site, caller.widget.allowed_sites):
        raise refuse(caller.language, "widget_panel_unavailable", 403)
    visitor = read_token(str(body.get("token") or ""), assistant_id=caller.widget.assistant_id)
    if visitor is None:
        if sentence := await limits.take_session_slot(address=caller.address, language=caller.language):
            raise Refusal(JSONResponse({"error": sentence}, status_code=429))
        visitor = Visitor(caller.widget.assistant_id, uuid.uuid4(), site, 0)
    visitor = Visitor(visitor.assistant_id, visitor.visitor_id, site, 0)
    token = issue_token(assistant_id=visitor.assistant_id, visitor_id=visitor.visitor_id, site=site)
    async with async_session() as session:
        # "New conversation" stores nothing: the conversation starts with the visitor's first message
        # (post_message with "new"), so an empty one never reaches the inbox or the counts.
        dialog = None if body.get("new") else await conv.current_dialog(session, visitor)
        messages, cursor = ([], None) if dialog is None else await conv.panel_messages(
            session, dialog_id=dialog.id, widget=caller.widget, language=caller.language)
        status = dialog.status if dialog is not None else "ai"
        handoff = await _handoff_enabled(session, caller.widget.assistant_id)
    return JSONResponse({"token": token, "dialog": str(dialog.id) if dialog else "", "messages": messages,
                         "cursor": cursor.encode() if cursor else "", "status": status, "handoff": handoff},
                        headers={"Cache-Control": "no-store"})


async def _handoff_enabled(session, assistant_id: uuid.UUID) -> bool:  # noqa: ANN001
    from chatai.db.models import Assistant

    assistant = await session.get(Assistant, assistant_id)
    return bool(assistant and assistant.handoff_enabled)


def _client_message_id(raw: object) -> str:
    value = str(raw or "")
    return value if 8 <= len(value) <= 64 and set(value) <= _CLIENT_ID_CHARS else ""


@_guarded
async def post_message(request: Request) -> Response:
    """A visitor's message. The answer streams back in this response (SSE): `accepted` (the stored message),
    `delta`s, then `final`, or `notice` (handoff, zero balance). A client message id already received gets
    `{"duplicate": true}`: the first request's answer reaches the panel through the events stream.
    `dialog`: the conversation the panel shows; none: the current one; `"new": true` with no dialog: a new
    conversation, started (stored) by this message."""
    caller = await check_caller(request)
    visitor = caller.visitor
    assert visitor is not None  # noqa: S101 - check_caller(need_visitor=True)
    body = await _json(request)
    message = str(body.get("text") or "").strip()
    client_id = _client_message_id(body.get("client_message_id"))
    if not message or not client_id:
        raise refuse(caller.language, "widget_panel_send_failed", 400)
    if sentence := limits.too_long(message, caller.language):
        raise Refusal(JSONResponse({"error": sentence}, status_code=413))
    async with async_session() as session:
        dialog = await _visitor_dialog(session, caller, visitor, body.get("dialog"), new=bool(body.get("new")))
        if dialog is None:
            known = await conv.dialog_with_client_message(session, visitor, client_id)
            if known is not None:  # the retry of the message that started a conversation
                return JSONResponse({"duplicate": True, "dialog": str(known)})
        elif not await conv.claim_client_message(session, dialog_id=dialog.id, client_message_id=client_id):
            return JSONResponse({"duplicate": True, "dialog": str(dialog.id)})
    if sentence := await limits.take_message_slot(visitor_key=str(visitor.visitor_id), address=caller.address,
                                                  language=caller.language):
        if dialog is not None:
            async with async_session() as session:
                await conv.forget_client_message(session, dialog_id=dialog.id, client_message_id=client_id)
        raise Refusal(JSONResponse({"error": sentence}, status_code=429))
    from chatai.widget.answering import answer_events, start_conversation

    recorded = None
    if dialog is None:
        if sentence := await limits.take_conversation_slot(visitor_key=str(visitor.visitor_id),
                                                           address=caller.address, language=caller.language):
            raise Refusal(JSONResponse({"error": sentence}, status_code=429))
        dialog_id, dialog, recorded = await start_conversation(visitor=visitor, language=caller.language,
                                                               text=message, client_message_id=client_id)
        if dialog is None:  # a retry that raced its first attempt: that one answers it
            return JSONResponse({"duplicate": True, "dialog": str(dialog_id)})
    events = answer_events(caller=caller, dialog=dialog, text=message, client_message_id=client_id,
                           recorded=recorded)
    return StreamingResponse(events, headers=sse.STREAM_HEADERS)


async def _visitor_dialog(session, caller: Caller, visitor: Visitor, raw_id: object, *,  # noqa: ANN001
                          new: bool) -> Dialog | None:
    """The conversation the panel shows (only ever this visitor's), else the current one unless the visitor
    asked for a new one; None: this message starts a conversation."""
    if raw_id:
        try:
            dialog = await conv.visitor_dialog(session, visitor, uuid.UUID(str(raw_id)))
        except ValueError:
            dialog = None
        if dialog is None:
            raise refuse(caller.language, "widget_panel_unavailable", 404)
        return dialog
    return None if new else await conv.current_dialog(session, visitor)


@_guarded
async def events(request: Request) -> Response:
    """The live stream of one conversation: what is new after `after` (operator replies, notices, answers
    given in another tab), then whatever comes, until the visitor leaves."""
    caller = await check_caller(request)
    try:
        dialog_id = uuid.UUID(request.query_params.get("dialog", ""))
    except ValueError:
        raise refuse(caller.language, "widget_panel_unavailable", 404) from None
    async with async_session() as session:
        dialog = await conv.visitor_dialog(session, caller.visitor, dialog_id)
    if dialog is None:
        raise refuse(caller.language, "widget_panel_unavailable", 404)
    after = conv.Cursor.decode(request.query_params.get("after", ""))
    return StreamingResponse(_stream(caller, dialog_id, after), headers=sse.STREAM_HEADERS)


async def _stream(caller: Caller, dialog_id: uuid.UUID, after: conv.Cursor | None) -> AsyncIterator[bytes]:
    ensure_subscriber()
    with REGISTRY.watch(dialog_id) as wake:
        yield sse.event("ready", {"dialog": str(dialog_id)})
        while True:
            async with async_session() as session:
                messages, after = await conv.panel_messages(session, dialog_id=dialog_id, widget=caller.widget,
                                                            language=caller.language, after=after)
                dialog = await session.get(Dialog, dialog_id) if messages else None
            for message in messages:
                yield sse.event("message", message, event_id=after.encode() if after else "")
            if dialog is not None:
                yield sse.event("status", {"status": dialog.status})
            # An idle stream costs no query: it reads again only when its dialog is nudged.
            while True:
                try:
                    async with asyncio.timeout(sse.KEEPALIVE_SECONDS):
                        await wake.get()
                    break
                except TimeoutError:
                    yield sse.KEEPALIVE
            while not wake.empty():  # a burst of nudges: one read
                wake.get_nowait()


def widget_routes() -> list[Route]:
    return [
        Route("/widget/{name:str}", frame.static_file, methods=["GET"]),
        Route("/widget/frame/{assistant_id}", frame.panel_page, methods=["GET"]),
        Route("/widget/avatar/{assistant_id}", frame.avatar, methods=["GET"]),
        Route("/widget/config/{assistant_id}", frame.loader_config, methods=["GET"]),
        Route("/widget/api/{assistant_id}/session", start_session, methods=["POST"]),
        Route("/widget/api/{assistant_id}/messages", post_message, methods=["POST"]),
        Route("/widget/api/{assistant_id}/events", events, methods=["GET"]),
    ]
