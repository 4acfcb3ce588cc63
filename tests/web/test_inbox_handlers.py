"""Inbox and overview handlers on a real state tree: owner B never sees or changes owner A's dialogs,
live refreshes reach only the owner's tabs, and the Redis subscriber delivers events across processes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.parse
import uuid
from datetime import UTC, datetime

import pytest

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Dialog, Message, utcnow
from chatai.db.session import async_session
from chatai.services import accounts, assistants
from chatai.services import inbox as inbox_svc
from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL
from chatai.services.live import LiveRegistry, parse_event, run_dialog_subscriber
from chatai.web.live import LiveBadgeState
from chatai.web.pages.overview import OverviewState
from chatai.web.state.inbox import InboxState
from tests.waits import PATIENCE
from tests.web.clients import signed_in_root


@pytest.fixture
async def world(db):
    async with async_session() as s:
        token_a = await accounts.sign_up(s, email="ia@example.com", password="password a")
        token_b = await accounts.sign_up(s, email="ib@example.com", password="password b")
        user_a = await accounts.user_for_token(s, token_a)
        assistant = await assistants.create_assistant(s, owner_id=user_a.id, name="A's assistant")
        dialog = Dialog(owner_id=user_a.id, assistant_id=assistant.id, user_name="<img src=x onerror=alert(1)>",
                        last_message_at=datetime.now(UTC))
        s.add(dialog)
        await s.flush()
        s.add(Message(dialog_id=dialog.id, role="user", text="A's secret question"))
        await s.commit()
        return {"token_a": token_a, "token_b": token_b, "owner_a": user_a.id, "assistant": str(assistant.id),
                "dialog": str(dialog.id)}


async def _dialog(dialog_id: str) -> Dialog:
    async with async_session() as s:
        return await s.get(Dialog, uuid.UUID(dialog_id))


async def test_inbox_handlers_refuse_another_owners_dialog(world):
    root = await signed_in_root(world["token_b"])
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    assert inbox.dialogs == [] and inbox.assistant_options == []
    await InboxState.open_dialog.fn(inbox, world["dialog"])
    assert inbox.transcript == [] and inbox.open_id == "" and inbox.error
    # Forced into the state: the services still refuse, and nothing of A's changes.
    inbox.open_id = world["dialog"]
    await InboxState.take_over.fn(inbox)
    await InboxState.handle_reply_submit.fn(inbox, {"reply": "hijack"})
    await InboxState.release.fn(inbox)
    assert inbox.transcript == [] and inbox.error
    dialog = await _dialog(world["dialog"])
    assert dialog.status == "ai" and dialog.operator_id is None
    assert dialog.owner_read_at.year == 1970  # B's look did not mark A's dialog read
    inbox.f_assistant = world["assistant"]
    await InboxState.set_filter_status.fn(inbox, "ai")
    assert inbox.dialogs == []


async def test_owner_reads_the_transcript_as_plain_text_and_it_becomes_read(world):
    root = await signed_in_root(world["token_a"])
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    assert [d["id"] for d in inbox.dialogs] == [world["dialog"]] and inbox.dialogs[0]["unread"] == "1"
    await InboxState.open_dialog.fn(inbox, world["dialog"])
    assert [m["text"] for m in inbox.transcript] == ["A's secret question"]
    assert inbox.header["user_name"] == "<img src=x onerror=alert(1)>"  # data; rendered by rx.text as text
    assert inbox.dialogs[0]["unread"] == "0"
    badge = await root.get_state(LiveBadgeState)
    assert badge.unread == 0

    # A "waiting for a person" notice pointing at the conversation being opened goes away; another stays.
    async with async_session() as s:
        dialog = await s.get(Dialog, uuid.UUID(world["dialog"]))
        dialog.status, dialog.handoff_at = "waiting", utcnow()
        s.add(dialog)
        await s.commit()
    badge.notice_dialog, badge.notice_name = str(uuid.uuid4()), "Someone else"
    await InboxState.open_dialog.fn(inbox, world["dialog"])
    assert badge.notice_name == "Someone else"
    badge.notice_dialog, badge.notice_name = world["dialog"], "The same customer"
    await InboxState.open_dialog.fn(inbox, world["dialog"])
    assert badge.notice_dialog == "" and badge.notice_name == ""


async def test_overview_analytics_ignore_another_owners_assistant(world):
    root = await signed_in_root(world["token_b"])
    overview = await root.get_state(OverviewState)
    await OverviewState.load_overview.fn(overview)
    await OverviewState.set_analytics_assistant.fn(overview, world["assistant"])
    assert overview.a_assistant == "all" and overview.figures["messages"] == "0"
    result = await OverviewState.set_analytics_period.fn(await (await signed_in_root("")).get_state(OverviewState),
                                                         "7d")
    assert "/signin" in repr(result)


async def test_live_refresh_updates_only_the_owners_tab(world):
    tab_a = await (await signed_in_root(world["token_a"])).get_state(InboxState)
    tab_b = await (await signed_in_root(world["token_b"])).get_state(InboxState)
    await InboxState.load_inbox.fn(tab_a)
    await InboxState.open_dialog.fn(tab_a, world["dialog"])
    await InboxState.load_inbox.fn(tab_b)
    async with async_session() as s:
        s.add(Message(dialog_id=uuid.UUID(world["dialog"]), role="assistant", text="live answer",
                      answered_by="qa"))
        await s.commit()
    dialog_ids = {uuid.UUID(world["dialog"])}
    await tab_b.refresh_live(world["owner_a"], dialog_ids)  # a push addressed to A, arriving at B's tab
    assert tab_b.dialogs == [] and tab_b.transcript == []
    await tab_a.refresh_live(world["owner_a"], dialog_ids)
    assert [m["text"] for m in tab_a.transcript] == ["A's secret question", "live answer"]
    badge_b = await (await signed_in_root(world["token_b"])).get_state(LiveBadgeState)
    assert not await badge_b.refresh(world["owner_a"]) and badge_b.unread == 0
    # The push reads A's counts once for all of A's tabs: a tab of B given them still shows nothing.
    summary_a = inbox_svc.UnreadSummary(unread=5, waiting=0, latest_waiting_id=None, latest_waiting_name="")
    assert not await badge_b.refresh(world["owner_a"], summary=summary_a) and badge_b.unread == 0
    badge_a = await (await signed_in_root(world["token_a"])).get_state(LiveBadgeState)
    assert await badge_a.refresh(world["owner_a"], summary=summary_a) and badge_a.unread == 5


def test_registry_keeps_tabs_per_owner_and_forgets_closed_ones():
    registry = LiveRegistry()
    a, b = uuid.uuid4(), uuid.uuid4()
    registry.register("t1", owner_id=a)
    registry.register("t2", owner_id=b)
    registry.register("", owner_id=a)  # no token: nothing to push to
    assert [t for t, _ in registry.clients_of(a)] == ["t1"]
    assert registry.prune(lambda token: token == "t2") == 1
    assert registry.clients_of(a) == [] and len(registry) == 1
    assert parse_event("not json") is None
    assert parse_event(json.dumps({"dialog_id": "x", "owner_id": str(a)})) is None


async def test_subscriber_delivers_events_published_by_another_client(db):
    from chatai.cache import get_redis

    received: list = []
    got = asyncio.Event()

    async def handle(batch):
        received.extend(batch)
        got.set()

    task = asyncio.create_task(run_dialog_subscriber(handle))
    try:
        owner, dialog = uuid.uuid4(), uuid.uuid4()
        deadline = time.monotonic() + PATIENCE
        while await get_redis().publish(DIALOG_EVENTS_CHANNEL, "garbage") == 0:  # until the subscription is live
            assert time.monotonic() < deadline, "the subscriber never subscribed"
            await asyncio.sleep(0.05)
        await get_redis().publish(DIALOG_EVENTS_CHANNEL, json.dumps(
            {"type": "message", "dialog_id": str(dialog), "owner_id": str(owner), "role": "user"}))
        await asyncio.wait_for(got.wait(), PATIENCE)
    finally:
        task.cancel()
    assert [(e.dialog_id, e.owner_id, e.role) for e in received] == [(dialog, owner, "user")]


def _at(root, path_and_query: str) -> None:
    """Put the tab's router at a URL, as the websocket's router data would."""
    from reflex.istate.data import RouterData

    path, _, query = path_and_query.partition("?")
    router = RouterData.from_router_data({"pathname": path, "asPath": path_and_query,
                                          "query": dict(urllib.parse.parse_qsl(query)),
                                          "headers": {"origin": "http://127.0.0.1"}})
    root.router = dataclasses.replace(router, session=root.router.session)  # keep the signed-in socket


async def test_qa_prefill_opens_the_editor_only_for_my_assistant(world):
    from chatai.web.pages.overview import QaPrefillState, qa_prefill_href
    from chatai.web.state.knowledge import KnowledgeState

    question = 'Do you deliver on "Sunday"? </script><script>alert(1)</script>'
    href = qa_prefill_href(uuid.UUID(world["assistant"]), question)
    for token, allowed in ((world["token_b"], False), (world["token_a"], True)):
        root = await signed_in_root(token)
        _at(root, href)
        kb = await root.get_state(KnowledgeState)
        await KnowledgeState.load_knowledge.fn(kb)
        result = await QaPrefillState.prefill_qa.fn(await root.get_state(QaPrefillState))
        if not allowed:
            assert result is None and kb.assistant_id == ""
        else:
            assert kb.assistant_id == world["assistant"]
            assert "qa-question" in repr(result) and "tab-qa" in repr(result)
