"""The worker side of live inbox tools, through the app's real state manager: an event is pushed only to the
tabs watching its dialog (one push each, none for the others), a tab that signed out stops watching, and
"is typing" fades by itself once the typist stops."""

from __future__ import annotations

import uuid

import pytest
import reflex as rx
from reflex.istate.data import SessionData

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.chatai import app
from chatai.inbox_tools.presence import ToolsEvent
from chatai.web import session_cookie
from chatai.web.state import inbox_tools_live as live
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox_tools import InboxToolsState
from tests.bots.conftest import wait_for


async def _tab(session_token: str, dialog_id: uuid.UUID) -> str:
    """A browser tab (client token) in the app's state manager, signed in with `session_token`, showing the
    dialog and registered as watching it, as InboxState's transcript load does."""
    client = uuid.uuid4().hex
    async with app.modify_state(rx.BaseStateToken(ident=client, cls=InboxToolsState)) as root:
        auth = await root.get_state(AuthState)
        sid = uuid.uuid4().hex
        auth.rx_router_session = SessionData(session_id=sid, client_ip="")
        session_cookie.bind(sid, session_token)
        (await root.get_state(InboxToolsState)).dialog_id = str(dialog_id)
    live.WATCHERS.watch(client, dialog_id)
    return client


async def _typing(client: str) -> str:
    async with app.modify_state(rx.BaseStateToken(ident=client, cls=InboxToolsState)) as root:
        return (await root.get_state(InboxToolsState)).typing


@pytest.fixture
def tabs_connected(monkeypatch):
    monkeypatch.setattr(live, "_connected", lambda token: True)  # no websockets here: every tab counts as open
    monkeypatch.setattr(live, "BOARD", live.TypingBoard(shown_seconds=0.5))
    yield
    for timer in live._fade_timers.values():
        timer.cancel()
    live._fade_timers.clear()


async def test_push_reaches_only_watchers_and_typing_fades(world, tabs_connected):
    watching = await _tab(world.token_a, world.dialog)
    elsewhere = await _tab(world.token_a, world.stranger_dialog)
    signed_out = await _tab("", world.dialog)
    event = ToolsEvent("typing", world.dialog, world.owner_a, user_id=str(uuid.uuid4()), who="Maria")
    live.BOARD.saw(event)
    assert await live.push_to_watchers(event) == 2  # the two tabs on this dialog, not the third
    assert await _typing(watching) == "Maria is typing a reply…"
    assert await _typing(elsewhere) == ""
    assert signed_out not in live.WATCHERS.tokens_of(world.dialog) == [watching]  # it stopped watching

    await live.handle_tools_event(event)  # through the subscriber's handler: starts the fade timer
    async def faded() -> bool:
        return await _typing(watching) == ""

    assert await wait_for(faded)  # waits up to PATIENCE
    live.WATCHERS.unwatch(watching)
    live.WATCHERS.unwatch(elsewhere)


def test_watchers_follow_the_open_dialog_and_forget_closed_tabs():
    watchers = live.DialogWatchers()
    one, two = uuid.uuid4(), uuid.uuid4()
    watchers.watch("tab-1", one)
    watchers.watch("tab-2", one)
    watchers.watch("", one)  # no client token: nothing to push to
    watchers.watch("tab-1", two)  # the tab opened another dialog
    assert watchers.tokens_of(one) == ["tab-2"] and watchers.tokens_of(two) == ["tab-1"]
    assert watchers.prune(lambda token: token != "tab-2") == 1
    assert watchers.tokens_of(one) == [] and len(watchers) == 1
    watchers.unwatch("tab-1")
    assert len(watchers) == 0
