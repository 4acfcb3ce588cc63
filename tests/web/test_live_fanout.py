"""Live views whose cost does not grow with every tab (issue 24): one read per owner per batch shared by all
the owner's tabs (statements counted on the real database), rows merged into each tab's list instead of a
re-read, a session checked once per batch for the tabs sharing it, and a stuck tab delaying no other."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Dialog, Message
from chatai.db.session import async_session
from chatai.security import token_hash
from chatai.services import accounts, assistants
from chatai.services.live import DialogEvent, LiveFanout, OwnerChange
from chatai.team.roles import INBOX
from chatai.web.live import REGISTRY, _tab_access, read_owner_change, register_tab
from chatai.web.state.access import require_access
from chatai.web.state.inbox import InboxState, merge_live_rows
from tests.sql_statements import counted_statements
from tests.waits import PATIENCE
from tests.web.clients import signed_in_root


@pytest.fixture
async def owners(db):
    """Two owners with two dialogs each (the newest first in each list)."""
    out = {}
    async with async_session() as s:
        for name in ("a", "b"):
            token = await accounts.sign_up(s, email=f"live-{name}@example.com", password=f"password {name}")
            user = await accounts.user_for_token(s, token)
            assistant = await assistants.create_assistant(s, owner_id=user.id, name=f"{name}'s assistant")
            dialogs = []
            for n in range(2):
                dialog = Dialog(owner_id=user.id, assistant_id=assistant.id, user_name=f"Customer {name}{n}",
                                last_message_at=datetime.now(UTC) - timedelta(minutes=10 - n))
                s.add(dialog)
                await s.flush()
                s.add(Message(dialog_id=dialog.id, role="user", text=f"question {name}{n}"))
                dialogs.append(dialog.id)
            out[name] = {"token": token, "owner": user.id, "dialogs": dialogs}
        await s.commit()
    return out


async def _new_message(dialog_id: uuid.UUID, text: str, role: str = "user") -> None:
    async with async_session() as s:
        s.add(Message(dialog_id=dialog_id, role=role, text=text))
        dialog = await s.get(Dialog, dialog_id)
        dialog.last_message_at = datetime.now(UTC)
        s.add(dialog)
        await s.commit()


async def _session_of(user_id: uuid.UUID) -> str:
    """A new sign-in session of this user (a staff seat's browser)."""
    from chatai.db.models import User

    async with async_session() as s:
        return await accounts._start_session(s, await s.get(User, user_id), "test")


def _events(owner, dialog_ids):
    return [DialogEvent(type="message", dialog_id=d, owner_id=owner, role="user") for d in dialog_ids]


@pytest.mark.parametrize("tabs", [3, 40])
async def test_one_read_per_owner_per_batch_whatever_the_tabs(owners, tabs):
    a, b = owners["a"], owners["b"]
    tokens = {a["owner"]: [f"a{i}" for i in range(tabs)], b["owner"]: [f"b{i}" for i in range(tabs)]}
    delivered: dict[str, list[OwnerChange]] = {}

    async def deliver(token: str, change: OwnerChange) -> bool:
        delivered.setdefault(token, []).append(change)
        return True

    fanout = LiveFanout(tabs_of=lambda owner: tokens.get(owner, []), read=read_owner_change, deliver=deliver)
    for owner in (a, b):
        for token in tokens[owner["owner"]]:  # staff seats: a sign-in session per tab
            register_tab(token, owner["owner"], await _session_of(owner["owner"]))
    await _new_message(a["dialogs"][0], "a new question")
    events = _events(a["owner"], [a["dialogs"][0], a["dialogs"][0], a["dialogs"][1]]) + _events(b["owner"],
                                                                                                 [b["dialogs"][1]])
    events.append(DialogEvent(type="message", dialog_id=uuid.uuid4(), owner_id=uuid.uuid4()))  # nobody watching
    with counted_statements() as statements:
        await fanout.dispatch(events)
    try:
        assert len(statements) == 8  # two owners x (counts, rows, assignees, their tabs' sessions): none per tab
    finally:
        for token in tokens[a["owner"]] + tokens[b["owner"]]:
            REGISTRY.unregister(token)
    assert fanout.reads == 2
    await _settled(fanout)
    assert sorted(delivered) == sorted(tokens[a["owner"]] + tokens[b["owner"]])
    for token in tokens[a["owner"]]:
        [change] = delivered[token]
        assert change.owner_id == a["owner"] and change.dialog_ids == set(a["dialogs"])
        assert change.rows[a["dialogs"][0]].preview == "a new question"
        assert change.summary.unread == 3  # the owner's counts, read once for every tab
        assert len(change.extra["valid_sessions"]) == tabs  # every seat's session checked in that one batch
    assert delivered[tokens[b["owner"]][0]][0].rows.keys() == {b["dialogs"][1]}  # only the owner's own rows


async def _settled(fanout: LiveFanout, stuck: set[str] = frozenset()) -> None:
    """Every tab's delivery task (but the stuck ones') has finished: nothing is offered meanwhile."""
    tasks = [t._task for token, t in fanout.tabs.items() if token not in stuck and t._task is not None]
    await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE)


async def test_a_stuck_tab_delays_no_other_and_its_queue_stays_one_deep():
    owner, dialogs = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    release = asyncio.Event()
    delivered: dict[str, list[set[uuid.UUID]]] = {"stuck": [], "quick": []}

    async def read(owner_id, dialog_ids):
        return OwnerChange(owner_id, set(dialog_ids), summary=len(dialog_ids), rows={})

    async def deliver(token: str, change: OwnerChange) -> bool:
        delivered[token].append(change.dialog_ids)
        if token == "stuck":
            await release.wait()  # a socket that does not drain
        return True

    fanout = LiveFanout(tabs_of=lambda _owner: ["stuck", "quick"], read=read, deliver=deliver)
    for dialog_id in dialogs:
        await fanout.dispatch(_events(owner, [dialog_id]))  # returns without waiting for any tab
        await _settled(fanout, stuck={"stuck"})
    assert delivered["quick"] == [{d} for d in dialogs]  # every batch, at once
    assert delivered["stuck"] == [{dialogs[0]}]  # still on the first
    stuck = fanout.tabs["stuck"]
    assert stuck.waiting is not None and stuck.waiting.dialog_ids == {dialogs[1], dialogs[2]}  # merged: one deep
    assert stuck.merged == 1
    release.set()
    await _settled(fanout)
    assert delivered["stuck"] == [{dialogs[0]}, {dialogs[1], dialogs[2]}]


async def test_a_tab_no_longer_signed_in_as_the_owner_is_forgotten():
    forgotten: list[str] = []

    async def read(owner_id, dialog_ids):
        return OwnerChange(owner_id, set(dialog_ids))

    async def deliver(token: str, change: OwnerChange) -> bool:
        return token != "signed-out"

    fanout = LiveFanout(tabs_of=lambda _owner: ["signed-out", "fine"], read=read, deliver=deliver,
                        forget=forgotten.append)
    await fanout.dispatch(_events(uuid.uuid4(), [uuid.uuid4()]))
    await _settled(fanout)
    assert forgotten == ["signed-out"] and list(fanout.tabs) == ["fine"]


async def _access_of(tab):
    """What push_to_client hands the tab: its person's checked access (read before counting statements)."""
    return await require_access(tab, INBOX)


async def test_inbox_tabs_merge_the_shared_rows_without_reading(owners):
    a, b = owners["a"], owners["b"]
    tab_a = await (await signed_in_root(a["token"])).get_state(InboxState)
    tab_b = await (await signed_in_root(b["token"])).get_state(InboxState)
    await InboxState.load_inbox.fn(tab_a)
    await InboxState.load_inbox.fn(tab_b)
    before_b = list(tab_b.dialogs)
    assert [d["user_name"] for d in tab_a.dialogs] == ["Customer a1", "Customer a0"]
    await _new_message(a["dialogs"][0], "<b>later</b> question")
    change = await read_owner_change(a["owner"], {a["dialogs"][0]})
    access_a, access_b = await _access_of(tab_a), await _access_of(tab_b)
    with counted_statements() as statements:
        await tab_a.apply_live(access_a, change)
        await tab_b.apply_live(access_b, change)  # A's change at B's tab (checked as B): nothing
    assert statements == []  # merged from the shared read; no dialog open, so nothing else to read
    assert [(d["user_name"], d["preview"]) for d in tab_a.dialogs] == [("Customer a0", "<b>later</b> question"),
                                                                       ("Customer a1", "question a1")]
    assert tab_b.dialogs == before_b
    # A status filter the row no longer matches takes it out; a search re-reads the list from the database.
    tab_a.f_status = "waiting"
    await tab_a.apply_live(access_a, change)
    assert [d["user_name"] for d in tab_a.dialogs] == ["Customer a1"]
    tab_a.f_status, tab_a.search = "all", "later"
    with counted_statements() as statements:
        await tab_a.apply_live(access_a, change)
    # re-read: the list, then its rows' assignees (team seats) and labels (inbox tools), one statement each
    assert len(statements) == 3 and [d["user_name"] for d in tab_a.dialogs] == ["Customer a0"]


async def _tab_user_id(root, change: OwnerChange) -> uuid.UUID | None:
    access = await _tab_access(root, change)
    return access.user_id if access is not None else None


async def test_a_session_is_checked_once_per_change_for_the_tabs_sharing_it(owners):
    a = owners["a"]
    roots = [await signed_in_root(a["token"]) for _ in range(5)]
    change = OwnerChange(a["owner"], set(), extra={"sessions": {}})
    with counted_statements() as statements:
        users = [await _tab_user_id(root, change) for root in roots]
    assert users == [a["owner"]] * 5
    checks = len(statements)
    assert checks >= 1
    with counted_statements() as statements:
        # B's own session, checked on its own once: not A's business, so nothing is pushed to that tab
        assert await _tab_user_id(await signed_in_root(owners["b"]["token"]), change) is None
        assert await _tab_user_id(await signed_in_root(""), change) is None  # signed out: no database at all
    assert len(statements) == checks


async def test_sessions_valid_in_the_batch_check_cost_no_statement_per_tab(owners):
    a = owners["a"]
    seats = [await _session_of(a["owner"]) for _ in range(3)]
    async with async_session() as s:
        await accounts.sign_out(s, token=seats[2])  # this seat signed out meanwhile
        valid = await accounts.live_sessions(s, user_id=a["owner"], token_hashes={token_hash(t) for t in seats})
        assert valid == {token_hash(seats[0]), token_hash(seats[1])}
        # another owner's session is never valid for A
        assert await accounts.live_sessions(s, user_id=a["owner"], token_hashes={token_hash(owners["b"]["token"])}) \
            == set()
    change = OwnerChange(a["owner"], set(), extra={"valid_sessions": valid})
    with counted_statements() as statements:
        assert [await _tab_user_id(await signed_in_root(t), change) for t in seats[:2]] == [a["owner"]] * 2
    assert statements == []
    assert await _tab_user_id(await signed_in_root(seats[2]), change) is None  # checked on its own: signed out


def test_merge_keeps_the_lists_order_and_drops_what_left_the_filter():
    current = [{"id": "1", "at": "2026-12-05T10:03"}, {"id": "2", "at": "2026-12-05T10:02"},
               {"id": "3", "at": "2026-12-05T10:01"}]
    fresh = [{"id": "3", "at": "2026-12-05T10:04", "p": "new"}]
    assert [r["id"] for r in merge_live_rows(current, fresh, {"3", "2"}, more=False)] == ["3", "1"]
    # A status change keeps its place (its last message is as old as before).
    moved = [{"id": "2", "at": "2026-12-05T10:02", "p": "released"}]
    assert [r["id"] for r in merge_live_rows(current, moved, {"2"}, more=False)] == ["1", "2", "3"]
    # Beyond the loaded page (more to load): left to "load more"; without more pages it joins the end.
    old = [{"id": "9", "at": "2026-12-05T09:00"}]
    assert [r["id"] for r in merge_live_rows(current, old, {"9"}, more=True)] == ["1", "2", "3"]
    assert [r["id"] for r in merge_live_rows(current, old, {"9"}, more=False)] == ["1", "2", "3", "9"]


async def test_a_hidden_tab_gets_one_merged_change_when_shown():
    owner, dialogs = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    delivered: dict[str, list[set[uuid.UUID]]] = {"hidden": [], "shown": []}

    async def read(owner_id, dialog_ids):
        return OwnerChange(owner_id, set(dialog_ids), rows={d: f"row {d}" for d in dialog_ids})

    async def deliver(token: str, change: OwnerChange) -> bool:
        delivered[token].append(change.dialog_ids)
        return True

    fanout = LiveFanout(tabs_of=lambda _owner: ["hidden", "shown"], read=read, deliver=deliver)
    fanout.set_hidden("hidden", True)
    for dialog_id in dialogs:
        await fanout.dispatch(_events(owner, [dialog_id]))
        await _settled(fanout)
    assert delivered == {"hidden": [], "shown": [{d} for d in dialogs]}
    fanout.set_hidden("hidden", False)
    await _settled(fanout)
    assert delivered["hidden"] == [set(dialogs)]  # one push for all it missed


def test_a_long_wait_drops_the_rows_for_a_re_read():
    from chatai.services.live import MAX_MERGED_ROWS

    owner = uuid.uuid4()
    change = OwnerChange(owner, set(), rows={})
    for _ in range(MAX_MERGED_ROWS):
        d = uuid.uuid4()
        change = change.merged_with(OwnerChange(owner, {d}, rows={d: "row"}))
    assert len(change.rows) == MAX_MERGED_ROWS
    d = uuid.uuid4()
    change = change.merged_with(OwnerChange(owner, {d}, rows={d: "row"}))
    assert change.rows is None and len(change.dialog_ids) == MAX_MERGED_ROWS + 1
    # News without rows (another publisher's, e.g. typing) keeps the rows of what it merges with, newest extra wins.
    d = uuid.uuid4()
    merged = OwnerChange(owner, {d}, rows={d: "row"}, extra={"typing": "old"}).merged_with(
        OwnerChange(owner, set(), extra={"typing": "new"}))
    assert merged.rows == {d: "row"} and merged.extra == {"typing": "new"} and merged.dialog_ids == {d}


async def test_only_the_tabs_own_owner_can_hide_it(owners):
    from chatai.web.live import FANOUT, REGISTRY, LiveBadgeState

    a = owners["a"]
    root = await signed_in_root(a["token"])
    token = f"tab-{uuid.uuid4().hex}"
    root.router = dataclasses.replace(root.router, session=dataclasses.replace(root.router.session,
                                                                               client_token=token))
    badge = await root.get_state(LiveBadgeState)
    assert badge.router.session.client_token == token
    REGISTRY.register(token, owner_id=owners["b"]["owner"])  # registered for B, asked by A: refused
    await LiveBadgeState.tab_visibility.fn(badge, True)
    assert token not in FANOUT.tabs
    REGISTRY.register(token, owner_id=a["owner"])
    try:
        await LiveBadgeState.tab_visibility.fn(badge, True)
        assert FANOUT.tabs[token].hidden and badge.tab_hidden
        await LiveBadgeState.tab_visibility.fn(badge, False)
        assert not FANOUT.tabs[token].hidden
    finally:
        REGISTRY.unregister(token)
        FANOUT.drop(token)


async def test_a_failed_read_for_one_owner_does_not_hold_back_another():
    broken, fine = uuid.uuid4(), uuid.uuid4()
    delivered: list[str] = []

    async def read(owner_id, dialog_ids):
        if owner_id == broken:
            raise RuntimeError("database hiccup")
        return OwnerChange(owner_id, set(dialog_ids))

    async def deliver(token: str, change: OwnerChange) -> bool:
        delivered.append(token)
        return True

    fanout = LiveFanout(tabs_of=lambda owner: ["broken-tab"] if owner == broken else ["fine-tab"], read=read,
                        deliver=deliver)
    await fanout.dispatch(_events(broken, [uuid.uuid4()]) + _events(fine, [uuid.uuid4()]))
    await _settled(fanout)
    assert delivered == ["fine-tab"]
