"""The inbox tools' handlers on a real state tree: notes marked in the transcript, labels and their filter,
the "/" picker of saved replies (keyboard and click), the customer card, who is typing, and every handler
refusing another business's dialog, label or saved reply (with a sentence, never a code)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.cache import get_redis
from chatai.db.models import Dialog
from chatai.db.session import async_session
from chatai.inbox_tools import canned, customers, labels, notes, presence
from chatai.services import accounts
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox import InboxState
from chatai.web.state.inbox_canned import CannedRepliesState
from chatai.web.state.inbox_tools import InboxToolsState
from tests.waits import PATIENCE
from tests.web.clients import signed_in_root


async def _open(token: str, dialog_id: uuid.UUID):
    root = await signed_in_root(token)
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    await InboxState.open_dialog.fn(inbox, str(dialog_id))
    return root, inbox, await root.get_state(InboxToolsState), await root.get_state(CannedRepliesState)


async def test_note_is_marked_in_the_transcript_with_author_and_time_in_order(world):
    _, inbox, tools, _ = await _open(world.token_a, world.dialog)
    await InboxToolsState.handle_note_submit.fn(tools, {"note": "Refund approved by the manager"})
    assert tools.tools_error == ""
    roles = [(m["role"], m["text"]) for m in inbox.transcript]
    assert roles == [("user", "Где мой заказ?"), ("assistant", "Он в пути."),
                     ("note", "Refund approved by the manager")]
    note = inbox.transcript[-1]
    assert note["operator"] == "anna@shop-a.example" and len(note["time"]) == len("2026-12-05 21:00")
    # A reload (another tab, a live refresh) shows it the same way.
    _, again, _, _ = await _open(world.token_a, world.dialog)
    assert [m["role"] for m in again.transcript] == ["user", "assistant", "note"]


async def test_labels_through_the_handlers_and_the_list_filter(world):
    _, inbox, tools, _ = await _open(world.token_a, world.dialog)
    await InboxToolsState.handle_label_create.fn(tools, {"name": "VIP", "color": "amber"})
    await InboxToolsState.handle_label_create.fn(tools, {"name": "vip", "color": "red"})
    assert tools.tools_error == "A label with this name already exists."
    vip = tools.labels[0]["id"]
    await InboxToolsState.add_label.fn(tools, vip)
    assert [x["name"] for x in tools.dialog_labels] == ["VIP"]
    assert tools.list_labels[str(world.dialog)] == [{"id": vip, "name": "VIP", "color": "amber"}]
    await InboxToolsState.set_label_filter.fn(tools, vip)
    assert [d["id"] for d in inbox.dialogs] == [str(world.dialog)]
    await InboxToolsState.set_label_color.fn(tools, vip, "teal")
    await InboxToolsState.handle_label_rename.fn(tools, {"label_id": vip, "name": "Важный"})
    assert tools.labels == [{"id": vip, "name": "Важный", "color": "teal"}] and tools.tools_error == ""
    await InboxToolsState.remove_label.fn(tools, vip)
    assert tools.dialog_labels == [] and inbox.dialogs == []  # the filter still applies
    await InboxToolsState.set_label_filter.fn(tools, "all")
    assert len(inbox.dialogs) == 3
    await InboxToolsState.delete_label.fn(tools, vip)
    assert tools.labels == []


async def _make_canned(owner_id, *pairs):
    async with async_session() as s:
        for shortcut, body in pairs:
            await canned.create_canned(s, owner_id=owner_id, shortcut=shortcut, body=body)


async def test_slash_picker_keyboard_enter_and_click_insert_for_editing(world):
    await _make_canned(world.owner_a, ("refund", "Refunds take 3 days."), ("receipt", "Your receipt is attached."),
                       ("delivery", "We deliver in 2 days."))
    _, _, _, box = await _open(world.token_a, world.dialog)
    await CannedRepliesState.load_canned.fn(box)
    await CannedRepliesState.set_draft.fn(box, "Hello Ivan! /re")
    assert box.picker_open and [r["shortcut"] for r in box.picker] == ["receipt", "refund"]
    CannedRepliesState.handle_reply_key.fn(box, "ArrowDown")
    assert box.picker_index == 1
    CannedRepliesState.handle_reply_key.fn(box, "ArrowDown")
    CannedRepliesState.handle_reply_key.fn(box, "ArrowUp")
    assert box.picker_index == 1
    # Enter arrives as the newline the text area typed: it inserts the highlighted reply.
    await CannedRepliesState.set_draft.fn(box, "Hello Ivan! /re\n")
    assert box.draft == "Hello Ivan! Refunds take 3 days." and not box.picker_open
    await CannedRepliesState.set_draft.fn(box, "Hello Ivan! Refunds take 3 days, sorry.")  # edited before sending
    assert box.draft == "Hello Ivan! Refunds take 3 days, sorry." and not box.picker_open
    # A click, and Escape.
    await CannedRepliesState.set_draft.fn(box, "/del")
    chosen = box.picker[0]
    assert chosen["shortcut"] == "delivery"
    focus = await CannedRepliesState.choose_canned.fn(box, chosen["id"])
    assert box.draft == "We deliver in 2 days." and "ref_reply_text" in repr(focus)
    await CannedRepliesState.set_draft.fn(box, "/zzz")
    assert box.picker_open and box.picker == []
    CannedRepliesState.handle_reply_key.fn(box, "Escape")
    assert not box.picker_open
    # Opening another customer's dialog never carries the draft over to them.
    await CannedRepliesState.set_draft.fn(box, "For Ivan only")
    inbox = await box.get_state(InboxState)
    await InboxState.open_dialog.fn(inbox, str(world.stranger_dialog))
    assert box.draft == ""


async def test_canned_manager_handlers(world):
    _, _, _, box = await _open(world.token_a, world.dialog)
    box.edit_shortcut, box.edit_body = "hours", "Open 9-18."
    await CannedRepliesState.save_canned.fn(box)
    assert [r["shortcut"] for r in box.replies] == ["hours"] and box.canned_error == ""
    CannedRepliesState.start_edit.fn(box, box.replies[0]["id"])
    box.edit_body = "Open 10-19."
    await CannedRepliesState.save_canned.fn(box)
    assert box.replies[0]["body"] == "Open 10-19."
    box.edit_shortcut, box.edit_body = "hours", "again"
    await CannedRepliesState.save_canned.fn(box)
    assert box.canned_error == "A saved reply with this shortcut already exists."
    await CannedRepliesState.delete_canned.fn(box, box.replies[0]["id"])
    assert box.replies == []


async def test_customer_card_in_the_state(world):
    _, _, tools, _ = await _open(world.token_a, world.dialog)
    assert tools.card["name"] == "Ivan Petrov" and tools.card["username"] == "@ivan_p"
    assert tools.card["language"] == "Russian" and tools.card["count"] == "2"  # the code's name, not "ru"
    assert [d["current"] for d in tools.card_dialogs] == ["1", ""]
    await InboxToolsState.handle_customer_note_submit.fn(tools, {"customer_note": "Prefers calls"})
    assert [(n["author"], n["text"]) for n in tools.card_notes] == [("anna@shop-a.example", "Prefers calls")]
    root_ru, _, tools_ru, _ = await _open(world.token_a, world.dialog)
    auth = await root_ru.get_state(AuthState)
    auth.locale = "ru"
    tools_ru.card = {}  # opened afresh in Russian
    await tools_ru._load_for_dialog(world.owner_a, world.dialog, [], 0)
    assert tools_ru.card["language"] == "русский"


async def test_who_holds_the_dialog_is_shown_to_the_others(world):
    async with async_session() as s:
        token = await accounts.sign_up(s, email="maria@shop-a.example", password="password m")
        teammate = await accounts.user_for_token(s, token)
        await s.execute(sa.update(Dialog).where(Dialog.id == world.dialog).values(status="human",
                                                                                  operator_id=teammate.id))
        await s.commit()
    _, inbox, tools, _ = await _open(world.token_a, world.dialog)
    assert inbox.header["held_by"] == "other" and tools.holder == "maria@shop-a.example"
    async with async_session() as s:
        await s.execute(sa.update(Dialog).where(Dialog.id == world.dialog).values(operator_id=world.owner_a))
        await s.commit()
    await inbox.refresh_live(world.owner_a, {world.dialog})  # they took it themselves: nobody else holds it
    assert inbox.header["held_by"] == "me" and tools.holder == ""


async def test_every_tools_handler_refuses_another_business(world):
    async with async_session() as s:
        vip = await labels.create_label(s, owner_id=world.owner_a, name="VIP", color="amber")
        reply = await canned.create_canned(s, owner_id=world.owner_a, shortcut="refund", body="A's text")
    root = await signed_in_root(world.token_b)
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    await InboxState.open_dialog.fn(inbox, str(world.dialog))
    tools, box = await root.get_state(InboxToolsState), await root.get_state(CannedRepliesState)
    assert tools.dialog_id == "" and tools.card == {} and inbox.transcript == []
    tools.dialog_id = str(world.dialog)  # forced into the state: the services still refuse
    errors = []
    for call in (InboxToolsState.handle_note_submit.fn(tools, {"note": "spy"}),
                 InboxToolsState.handle_customer_note_submit.fn(tools, {"customer_note": "spy"}),
                 InboxToolsState.add_label.fn(tools, str(vip.id)),
                 InboxToolsState.remove_label.fn(tools, str(vip.id)),
                 InboxToolsState.set_label_color.fn(tools, str(vip.id), "red"),
                 InboxToolsState.handle_label_rename.fn(tools, {"label_id": str(vip.id), "name": "Hijacked"}),
                 InboxToolsState.delete_label.fn(tools, str(vip.id))):
        tools.tools_error = ""
        await call
        errors.append(tools.tools_error)
    assert all(e and not e.startswith("err_") and e.endswith(".") for e in errors), errors
    box.edit_id, box.edit_shortcut, box.edit_body = str(reply.id), "refund", "hijack"
    await CannedRepliesState.save_canned.fn(box)
    assert box.canned_error == "This conversation, label or saved reply no longer exists."
    await CannedRepliesState.delete_canned.fn(box, str(reply.id))
    await CannedRepliesState.load_canned.fn(box)
    assert box.replies == []
    await CannedRepliesState.set_draft.fn(box, "/ref")
    assert box.picker == []  # A's saved replies are never offered to B
    async with async_session() as s:
        assert await notes.list_dialog_notes(s, owner_id=world.owner_a, dialog_id=world.dialog) == []
        assert (await customers.customer_card(s, owner_id=world.owner_a, dialog_id=world.dialog)).notes == []
        assert [(x.name, x.color) for x in await labels.list_labels(s, owner_id=world.owner_a)] == [("VIP", "amber")]
        assert await labels.labels_of_dialogs(s, owner_id=world.owner_a, dialog_ids=[world.dialog]) == {}
        assert [r.body for r in await canned.list_canned(s, owner_id=world.owner_a)] == ["A's text"]


async def test_signed_out_tab_gets_nothing(world):
    root = await signed_in_root("")
    tools, box = await root.get_state(InboxToolsState), await root.get_state(CannedRepliesState)
    tools.dialog_id = str(world.dialog)
    await InboxToolsState.handle_note_submit.fn(tools, {"note": "anon"})
    await CannedRepliesState.load_canned.fn(box)
    await CannedRepliesState.set_draft.fn(box, "hello")
    assert box.replies == [] and box.draft == ""
    async with async_session() as s:
        assert await notes.list_dialog_notes(s, owner_id=world.owner_a, dialog_id=world.dialog) == []


async def _subscribed():
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(presence.TOOLS_EVENTS_CHANNEL)
    return pubsub


async def _drain(pubsub, *, until_count: int, settle: float = 0.3) -> list[dict]:
    """Events on the channel: at least `until_count` (waiting up to PATIENCE), then whatever else arrives
    within `settle` seconds (a throttle that failed would have published by then: the publish is synchronous)."""
    got: list[dict] = []
    deadline = time.monotonic() + PATIENCE
    while len(got) < until_count and time.monotonic() < deadline:
        message = await pubsub.get_message(timeout=0.5)
        if message:
            got.append(json.loads(message["data"]))
    while (message := await pubsub.get_message(timeout=settle)) is not None:
        got.append(json.loads(message["data"]))
    return got


async def test_typing_is_published_once_per_throttle_window_not_per_keystroke(world):
    pubsub = await _subscribed()
    try:
        _, _, _, box = await _open(world.token_a, world.dialog)
        for draft in ("H", "He", "Hel", "Hell", "Hello"):
            await CannedRepliesState.set_draft.fn(box, draft)
        await CannedRepliesState.set_draft.fn(box, "/re")  # choosing a saved reply is not typing
        events = await _drain(pubsub, until_count=1)
    finally:
        await pubsub.aclose()
    assert [(e["type"], e["dialog_id"], e["who"]) for e in events] == [
        ("typing", str(world.dialog), "anna@shop-a.example")]


async def test_live_typing_reaches_only_the_business_tab_showing_the_dialog(world):
    board = presence.TypingBoard(shown_seconds=3600)
    _, _, tab_a, _ = await _open(world.token_a, world.dialog)
    _, _, tab_elsewhere, _ = await _open(world.token_a, world.stranger_dialog)
    root_b = await signed_in_root(world.token_b)
    tab_b = await root_b.get_state(InboxToolsState)
    tab_b.dialog_id = str(world.dialog)  # even forced onto A's dialog
    teammate = presence.ToolsEvent("typing", world.dialog, world.owner_a, user_id=str(uuid.uuid4()), who="Maria")
    board.saw(teammate)
    assert await tab_a.apply_live(teammate, board) and tab_a.typing == "Maria is typing a reply…"
    assert not await tab_elsewhere.apply_live(teammate, board) and tab_elsewhere.typing == ""
    assert not await tab_b.apply_live(teammate, board) and tab_b.typing == ""
    # One's own typing in another tab is not shown back.
    me = presence.ToolsEvent("typing", world.dialog, world.owner_a, user_id=str(world.owner_a), who="anna")
    board.saw(me)
    await tab_a.apply_live(me, board)
    assert tab_a.typing == "Maria is typing a reply…"


async def test_live_note_refreshes_the_open_transcript(world):
    _, inbox, tab, _ = await _open(world.token_a, world.dialog)
    async with async_session() as s:
        await notes.add_dialog_note(s, owner_id=world.owner_a, dialog_id=world.dialog, author_id=world.owner_a,
                                    author_name="maria@shop-a.example", text="Called him back")
    event = presence.ToolsEvent("note", world.dialog, world.owner_a)
    assert await tab.apply_live(event, presence.TypingBoard())
    assert inbox.transcript[-1]["role"] == "note" and inbox.transcript[-1]["text"] == "Called him back"


def test_typing_board_fades_and_excludes_the_viewer():
    board = presence.TypingBoard(shown_seconds=6)
    dialog = uuid.uuid4()
    board.saw(presence.ToolsEvent("typing", dialog, uuid.uuid4(), user_id="u1", who="Maria"), now=100)
    board.saw(presence.ToolsEvent("typing", dialog, uuid.uuid4(), user_id="u2", who="Anna"), now=103)
    assert board.typing(dialog, now=104) == ["Anna", "Maria"]
    assert board.typing(dialog, now=104, but_user="u2") == ["Maria"]
    assert board.seconds_left(dialog, now=104) == 5
    assert board.typing(dialog, now=106) == ["Anna"]
    assert board.typing(dialog, now=109) == [] and board.seconds_left(dialog, now=109) is None


def test_parse_refuses_malformed_events():
    dialog, owner = uuid.uuid4(), uuid.uuid4()
    assert presence.parse_tools_event("garbage") is None
    assert presence.parse_tools_event(json.dumps({"type": "shout", "dialog_id": str(dialog),
                                                  "owner_id": str(owner)})) is None
    assert presence.parse_tools_event(json.dumps({"type": "note", "dialog_id": "x", "owner_id": str(owner)})) is None
    assert presence.parse_tools_event(json.dumps({"type": "note", "dialog_id": str(dialog), "owner_id": str(owner)})
                                      ) == presence.ToolsEvent("note", dialog, owner)


async def test_subscriber_hands_over_published_events(db):
    received: list = []
    got = asyncio.Event()

    async def handle(event):
        received.append(event)
        got.set()

    task = asyncio.create_task(presence.run_tools_subscriber(handle))
    try:
        dialog, owner = uuid.uuid4(), uuid.uuid4()
        deadline = time.monotonic() + PATIENCE
        while await get_redis().publish(presence.TOOLS_EVENTS_CHANNEL, "garbage") == 0:
            assert time.monotonic() < deadline, "the subscriber never subscribed"
            await asyncio.sleep(0.05)
        await presence.publish_tools_event("labels", dialog_id=dialog, owner_id=owner)
        await asyncio.wait_for(got.wait(), PATIENCE)
    finally:
        task.cancel()
    assert received == [presence.ToolsEvent("labels", dialog, owner)]


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_tools_texts_exist_in_both_languages(locale):
    from chatai.web.i18n import TEXTS
    from chatai.web.texts import inbox_tools

    assert set(inbox_tools.EN) == set(inbox_tools.RU)
    codes = ("not_found", "empty_text", "too_long", "label_empty", "label_bad_color", "label_exists", "label_limit",
             "canned_empty_shortcut", "canned_exists", "canned_limit")
    assert all(TEXTS[locale][f"err_tools_{c}"].endswith(".") for c in codes)
