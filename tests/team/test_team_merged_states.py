"""Team seats meeting the features merged beside them (issue 23 with 21, 22 and 24): a teammate's tab receives
the business's live changes and a stranger's does not; notes are written by the person, in the business; an
operator labels dialogs but does not keep the label set, and cannot change the website widget's allowed sites;
each person's clock is their own. Real database, Redis and state tree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Dialog, Message
from chatai.db.session import async_session
from chatai.inbox_tools import labels
from chatai.inbox_tools.models import DialogLabel, DialogNote, InboxLabel
from chatai.services import account_clock, accounts, assistants
from chatai.team import assignment, members
from chatai.team.roles import INBOX
from chatai.web.live import _tab_access, read_owner_change
from chatai.web.pages.widget import WidgetState
from chatai.web.state.access import REFUSED, BusinessState, require_access
from chatai.web.state.inbox import InboxState
from chatai.web.state.inbox_tools import InboxToolsState
from chatai.widget import store
from tests.web.clients import signed_in_root

PASSWORD = "copper kettle 91 winds"


@pytest.fixture
async def shop(db):
    async with async_session() as s:
        tokens = {name: await accounts.sign_up(s, email=f"{name}@example.com", password=PASSWORD)
                  for name in ("owner", "manager", "operator", "stranger")}
        ids = {name: (await accounts.user_for_token(s, token)).id for name, token in tokens.items()}
        assistant = await assistants.create_assistant(s, owner_id=ids["owner"], name="Support")
        dialog = Dialog(owner_id=ids["owner"], assistant_id=assistant.id, user_name="Anna",
                        last_message_at=datetime.now(UTC))
        s.add(dialog)
        await s.flush()
        s.add(Message(dialog_id=dialog.id, role="user", text="first question"))
        await members.add_member(s, business_id=ids["owner"], user_id=ids["manager"], role="manager")
        await members.add_member(s, business_id=ids["owner"], user_id=ids["operator"], role="operator")
        await s.commit()
    return {"tokens": tokens, "ids": ids, "assistant": assistant.id, "dialog": dialog.id}


async def _tab(shop, who: str, *, business: str = "owner"):
    root = await signed_in_root(shop["tokens"][who])
    (await root.get_state(BusinessState)).business_id = str(shop["ids"][business]) if business else ""
    return root


async def test_a_teammates_tab_gets_the_business_live_change_with_its_assignee(shop):
    owner, operator = shop["ids"]["owner"], shop["ids"]["operator"]
    root = await _tab(shop, "operator")
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    assert [d["preview"] for d in inbox.dialogs] == ["first question"]
    async with async_session() as s:
        s.add(Message(dialog_id=shop["dialog"], role="user", text="a later question"))
        await s.execute(sa.update(Dialog).where(Dialog.id == shop["dialog"]).values(last_message_at=datetime.now(UTC)))
        await s.commit()
        await assignment.assign(s, business_id=owner, actor_id=owner, dialog_id=shop["dialog"], user_id=operator)
    change = await read_owner_change(owner, {shop["dialog"]})
    assert change.extra["assignees"][shop["dialog"]].user_id == operator  # read once for every tab

    access = await _tab_access(root, change)
    assert access is not None and access.user_id == operator and access.business_id == owner
    assert access.role == "operator"
    await inbox.apply_live(access, change)
    [row] = inbox.dialogs
    assert (row["preview"], row["assignee"], row["mine"]) == ("a later question", "operator@example.com", "1")

    # The stranger forcing the business in, and the operator's tab on their own business, get nothing.
    assert await _tab_access(await _tab(shop, "stranger"), change) is None
    assert await _tab_access(await _tab(shop, "operator", business=""), change) is None


async def test_a_note_is_written_by_the_person_in_the_business(shop):
    root = await _tab(shop, "operator")
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    await InboxState.open_dialog.fn(inbox, str(shop["dialog"]))
    tools = await root.get_state(InboxToolsState)
    assert await InboxToolsState.handle_note_submit.fn(tools, {"note": "Asked for a refund last week"}) is None
    async with async_session() as s:
        [note] = (await s.execute(sa.select(DialogNote))).scalars().all()
    assert (note.owner_id, note.author_id, note.author_name) == (shop["ids"]["owner"], shop["ids"]["operator"],
                                                                  "operator@example.com")
    assert [r["operator"] for r in inbox.transcript if r["role"] == "note"] == ["operator@example.com"]


async def test_an_operator_labels_a_dialog_but_does_not_keep_the_label_set(shop):
    async with async_session() as s:
        vip = await labels.create_label(s, owner_id=shop["ids"]["owner"], name="VIP", color="amber")
    root = await _tab(shop, "operator")
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    await InboxState.open_dialog.fn(inbox, str(shop["dialog"]))
    tools = await root.get_state(InboxToolsState)
    assert await InboxToolsState.add_label.fn(tools, str(vip.id)) is None
    assert [x["name"] for x in tools.dialog_labels] == ["VIP"]
    for refused in (InboxToolsState.handle_label_create.fn(tools, {"name": "Spam", "color": "red"}),
                    InboxToolsState.delete_label.fn(tools, str(vip.id))):
        assert REFUSED in repr(await refused)
    async with async_session() as s:
        assert (await s.execute(sa.select(InboxLabel.name))).scalars().all() == ["VIP"]
        assert len((await s.execute(sa.select(DialogLabel))).all()) == 1

    manager_tools = await (await _tab(shop, "manager")).get_state(InboxToolsState)
    assert await InboxToolsState.handle_label_create.fn(manager_tools, {"name": "Spam", "color": "red"}) is None
    async with async_session() as s:
        assert sorted((await s.execute(sa.select(InboxLabel.name))).scalars().all()) == ["Spam", "VIP"]


async def test_only_an_owner_or_a_manager_changes_the_widgets_allowed_sites(shop):
    for who, expected in (("operator", []), ("manager", ["shop.example.com"])):
        widget = await (await _tab(shop, who)).get_state(WidgetState)
        widget.assistant_id, widget.sites = str(shop["assistant"]), "shop.example.com"
        result = await WidgetState.handle_save.fn(widget)
        assert (REFUSED in repr(result)) == (who == "operator")
        async with async_session() as s:
            saved = await store.get_owned_widget(s, owner_id=shop["ids"]["owner"], assistant_id=shop["assistant"])
        assert saved.allowed_sites == expected


async def test_each_person_sees_times_on_their_own_clock(shop):
    async with async_session() as s:
        await account_clock.set_time_zone(s, user_id=shop["ids"]["owner"], time_zone="Europe/Moscow")
        await account_clock.set_time_zone(s, user_id=shop["ids"]["operator"], time_zone="America/New_York")
    operator = await require_access(await (await _tab(shop, "operator")).get_state(InboxState), INBOX)
    owner = await require_access(await (await _tab(shop, "owner")).get_state(InboxState), INBOX)
    assert (operator.business_id, operator.time_zone) == (shop["ids"]["owner"], "America/New_York")
    assert owner.time_zone == "Europe/Moscow"
    assert uuid.UUID(str(operator.user_id)) == shop["ids"]["operator"]
