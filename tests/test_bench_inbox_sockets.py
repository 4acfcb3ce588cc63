"""The whole-path bench's socket tabs (bench/inbox_sockets.py): inbox tabs that speak Reflex's socket.io
protocol themselves, without a browser. The frames they write and read; what they note from pushed deltas;
how arrivals are counted when tabs show different businesses; and, against the real app (chatai.chatai:app
served by Granian with the compile skipped, as tests/web/test_origin_guard.py starts it, on the test run's
database and Redis), that a signed-in socket tab loads the inbox and sees a live change while a tab without
a session loads nothing."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bench.inbox_sockets import (
    NAMESPACE,
    SocketTab,
    connect_packet,
    event_packet,
    open_tabs,
    parse_packet,
    reflex_event,
)
from bench.whole_path_report import live_figures
from tests.backend_app import serve_backend
from tests.waits import PATIENCE

NAMES = {"root": "reflex___state____state", "inbox": "reflex___state____state.inbox",
         "badge": "reflex___state____state.badge"}


def test_frames_are_engine_io_messages_carrying_socket_io_packets_on_reflexs_namespace():
    boot = reflex_event("reflex___state____state.hydrate_and_load")
    assert boot == {"name": "reflex___state____state.hydrate_and_load", "payload": {}, "handler": None,
                    "router_data": {"pathname": "/dashboard/inbox", "asPath": "/dashboard/inbox"}}
    assert connect_packet(boot) == "40/_event," + json.dumps({"event": boot})
    assert event_packet(boot) == "42/_event," + json.dumps(["event", boot])

    assert parse_packet('0{"sid":"e1","pingInterval":25000}') == ("open", {"sid": "e1", "pingInterval": 25000})
    assert parse_packet("2") == ("ping", None)
    assert parse_packet('40/_event,{"sid":"s1"}') == ("connected", {"sid": "s1"})
    assert parse_packet('44/_event,{"message":"refused"}') == ("refused", {"message": "refused"})
    assert parse_packet('42/_event,["event",{"delta":{}}]') == ("event", ["event", {"delta": {}}])
    assert parse_packet('42/_event,7["new_token","t2"]') == ("event", ["new_token", "t2"])  # with an ack id
    assert parse_packet("41/_event,")[0] == "close"
    assert NAMESPACE == "/_event"


def _update(rows: list[tuple[str, str]], **inbox_fields) -> dict:
    dialogs = [{"id": str(n), "user_name": user, "preview": preview} for n, (user, preview) in enumerate(rows)]
    return {"delta": {NAMES["inbox"]: {"dialogs_rx_state_": dialogs, **inbox_fields}}, "events": [], "final": True}


def test_a_tab_notes_each_change_of_a_listed_preview_once_with_its_arrival():
    tab = SocketTab("http://127.0.0.1:1", "chatai_session=x", NAMES)
    tab._on_update({"delta": {}, "events": [{"name": "_redirect", "payload": {"path": "/signin"}}]}, 9.0)
    assert (tab.redirects, tab.settled.is_set(), tab.loaded.is_set()) == (["/signin"], True, False)
    tab._on_update(_update([("Customer 1", "hello"), ("Customer 2", "hi")],
                           assistant_options_rx_state_=[{"id": "a", "name": "Shop"}]), 10.0)
    assert tab.loaded.is_set()
    tab.events.clear()  # what is listed now is the baseline (SocketTabs.reset)
    tab._on_update(_update([("Customer 2", "where is my order?"), ("Customer 1", "hello")]), 11.5)
    tab._on_update({"delta": {NAMES["badge"]: {"unread_rx_state_": 3}}}, 12.0)  # no list in it
    tab._on_update(_update([("Customer 2", "It ships today."), ("Customer 1", "hello")]), 13.25)
    assert tab.events == [("Customer 2", "where is my order?", 11.5, 11.5),
                          ("Customer 2", "It ships today.", 13.25, 13.25)]


def test_arrivals_are_expected_only_from_the_tabs_own_business():
    asks = [{"chat_id": 1, "bot": 0, "question": "Сколько стоит доставка?", "pushed_wall": 100.0, "status": "ok",
             "replied_wall": 103.0},
            {"chat_id": 2, "bot": 1, "question": "Когда вы открыты?", "pushed_wall": 100.0, "status": "ok",
             "replied_wall": 102.0}]
    bot_owners = [0, 1]  # bot 0 is business 0's, bot 1 business 1's
    events = [[("Customer 1", "Сколько стоит доставка?", 100.25, 100.25), ("Customer 1", "От 300 ₽.", 103.5, 103.5)],
              [],  # business 1's tab missed its question
              [("Customer 1", "Сколько стоит доставка?", 100.75, 100.75)]]
    figures = live_figures(events, asks, [0, 1, 0], bot_owners)
    assert (figures["tabs"], figures["tabs_asked"]) == (3, 3)
    assert figures["seen"] == pytest.approx(2 / 3)  # 3 (tab, question) pairs expected, not 3 x 2
    assert figures["seen_worst_tab"] == 0.0
    quiet = live_figures([[], []], asks[:1], [0, 2], bot_owners)  # business 2 had no question to show
    assert (quiet["tabs_asked"], quiet["seen"], quiet["seen_worst_tab"]) == (1, 0.0, 0.0)
    assert math.isnan(live_figures([[]], asks[:1], [2], bot_owners)["seen_worst_tab"])  # no tab had any
    assert (figures["live_q_p50"], figures["live_q_p95"]) == pytest.approx((0.25, 0.75))  # the two tabs that saw it
    assert figures["live_r_p50"] == pytest.approx(0.5)


# --- against the real app --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    with serve_backend(tmp_path_factory.mktemp("sockets-app")) as url:
        yield url


async def _until(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def test_signed_in_socket_tabs_load_the_inbox_and_see_a_live_change(db, app_url):
    from chatai.db.models import Dialog, Message
    from chatai.db.session import async_session
    from chatai.services import accounts, assistants
    from chatai.services.dialogs import publish_dialog_event
    from chatai.web.live import LiveBadgeState
    from chatai.web.session_cookie import COOKIE_NAME
    from chatai.web.state.inbox import InboxState

    async with async_session() as s:
        token = await accounts.sign_up(s, email="sockets@example.com", password="a socket tab password")
        owner = await accounts.user_for_token(s, token)
        assistant = await assistants.create_assistant(s, owner_id=owner.id, name="Shop")
        dialog = Dialog(owner_id=owner.id, assistant_id=assistant.id, user_name="Customer 7",
                        last_message_at=datetime.now(UTC) - timedelta(minutes=5))
        s.add(dialog)
        await s.flush()
        s.add(Message(dialog_id=dialog.id, role="user", text="hello"))
        await s.commit()
        dialog_id, owner_id = dialog.id, owner.id
    names = {"root": LiveBadgeState.get_root_state().get_full_name(), "inbox": InboxState.get_full_name(),
             "badge": LiveBadgeState.get_full_name()}
    signed_in = f"{COOKIE_NAME}={token}"
    tabs = await open_tabs(app_url, [signed_in, signed_in, f"{COOKIE_NAME}={uuid.uuid4().hex}"], names,
                           timeout=PATIENCE)
    try:
        mine, stranger = tabs[:2], tabs[2]
        assert [t.loaded.is_set() for t in mine] == [True, True], [t.error for t in tabs]
        assert all(("Customer 7", "hello") == e[:2] for t in mine for e in t.events)  # the list as loaded
        for tab in mine:
            tab.events.clear()
        async with async_session() as s:
            s.add(Message(dialog_id=dialog_id, role="user", text="where is my order?"))
            (await s.get(Dialog, dialog_id)).last_message_at = datetime.now(UTC)
            await s.commit()
        await publish_dialog_event(dialog_id=dialog_id, owner_id=owner_id, role="user")
        await _until(lambda: all(t.events for t in mine), "both signed-in tabs show the new message")
        assert [[e[:2] for e in t.events] for t in mine] == [[("Customer 7", "where is my order?")]] * 2
        # no session: sent to sign in (by the page's guard and by each refused handler), no inbox, nothing live
        await _until(lambda: stranger.redirects, "the tab without a session is sent elsewhere")
        assert (set(stranger.redirects), stranger.loaded.is_set(), stranger.events) == ({"/signin"}, False, [])
    finally:
        await asyncio.gather(*(t.close() for t in tabs))
