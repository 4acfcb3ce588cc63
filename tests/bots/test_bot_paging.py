"""Keyset paging of bot lists (10,000 bots): the owner's bots page, the admin bots page and `bots list` walk
every bot exactly once, in order, however the pages fall (equal timestamps included), and never another
owner's bot. Their speed at 10,000 bots is measured by `python -m bench bots_10k --paging`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state (in the session's context, not one test's)
from chatai.db.models import Bot, utcnow
from chatai.db.session import async_session
from chatai.services import admin as admin_svc
from chatai.services import bots as bots_svc
from chatai.services.accounts import CurrentUser
from tests.factories import make_tenant

_telegram_ids = iter(range(880_000, 889_999))


async def _bots(tenant, count: int, *, same_instant: bool = False, status: str = "running") -> list[uuid.UUID]:
    """`count` bots of the tenant, connected a second apart (or all in the same microsecond)."""
    start = utcnow() - timedelta(days=1)
    rows = []
    for n in range(count):
        telegram_id = next(_telegram_ids)
        rows.append(dict(id=uuid.uuid4(), assistant_id=tenant.assistant_id, owner_id=tenant.owner_id,
                         telegram_bot_id=telegram_id, username=f"b{telegram_id}_bot", token_encrypted="-",
                         token_hint="-", mode="polling", webhook_secret="", desired_state="running", status=status,
                         last_error="", runner_id="", updated_at=start,
                         created_at=start if same_instant else start + timedelta(seconds=n)))
    async with async_session() as s:
        await s.execute(sa.insert(Bot), rows)
        await s.commit()
    return [r["id"] for r in rows]


async def _walk_owner(owner_id, limit: int) -> tuple[list[uuid.UUID], int]:
    seen, after, pages = [], "", 0
    while True:
        async with async_session() as s:
            page = await bots_svc.list_bots_page(s, owner_id=owner_id, after=after, limit=limit)
        pages += 1
        seen += [v.id for v in page.views]
        assert len(page.views) <= limit
        if not page.next_after:
            return seen, pages
        after = page.next_after


async def _in_order(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    async with async_session() as s:
        rows = (await s.execute(sa.select(Bot.id).where(Bot.id.in_(ids)).order_by(Bot.created_at, Bot.id))).all()
    return [r.id for r in rows]


@pytest.mark.parametrize("limit", [1, 3, 7, 8, 50])
async def test_owner_pages_walk_every_bot_once_in_order(db, limit):
    mine = await make_tenant("a@example.com")
    other = await make_tenant("b@example.com")
    ids = await _bots(mine, 4) + await _bots(mine, 3, same_instant=True)  # ties broken by id
    await _bots(other, 5)
    seen, pages = await _walk_owner(mine.owner_id, limit)
    assert seen == await _in_order(ids)
    assert pages == max(1, -(-len(ids) // limit))  # no empty last page, even when the count divides evenly


async def test_owner_page_of_a_malformed_cursor_is_the_first_page(db):
    mine = await make_tenant("a@example.com")
    ids = await _bots(mine, 3)
    first = await _in_order(ids)
    for cursor in ("garbage", "2026-01-01_not-a-uuid", f"2026-01-01T00:00:00_{uuid.uuid4()}", "_"):
        async with async_session() as s:
            page = await bots_svc.list_bots_page(s, owner_id=mine.owner_id, after=cursor, limit=2)
        assert [v.id for v in page.views] == first[:2]  # a naive timestamp is not trusted either
    async with async_session() as s:
        assert await bots_svc.count_bots(s, owner_id=mine.owner_id) == 3


async def test_all_bots_pages_cover_every_owner(db):
    a = await make_tenant("a@example.com")
    b = await make_tenant("b@example.com")
    ids = await _bots(a, 4) + await _bots(b, 3)
    seen, after = [], ""
    while True:
        async with async_session() as s:
            page = await bots_svc.list_bots_page(s, owner_id=None, after=after, limit=2)
        seen += [v.id for v in page.views]
        if not page.next_after:
            break
        after = page.next_after
    assert seen == await _in_order(ids)


async def _admin() -> CurrentUser:
    from chatai.services import accounts

    async with async_session() as s:
        user = await accounts.create_user(s, email="root@example.com", password="correct horse battery", role="admin")
    return CurrentUser(id=user.id, email=user.email, role="admin", locale="en")


async def test_admin_pages_put_errors_first_and_walk_every_bot_once(db):
    me = await _admin()
    tenant = await make_tenant("shop@example.com")
    healthy = await _bots(tenant, 5)
    broken = await _bots(tenant, 3, status="error")
    seen, after, pages = [], "", 0
    while True:
        async with async_session() as s:
            page = await admin_svc.bots_page(s, admin=me, after=after, limit=2)
        pages += 1
        seen += [r.id for r in page.rows]
        if not page.next_after:
            break
        after = page.next_after
    assert seen == await _in_order(broken) + await _in_order(healthy)  # the page turn from errors to the rest too
    assert pages == 4
    async with async_session() as s:
        only_errors = await admin_svc.bots_page(s, admin=me, status="error", limit=2)
        assert [r.id for r in only_errors.rows] == (await _in_order(broken))[:2] and only_errors.next_after
        rest = await admin_svc.bots_page(s, admin=me, status="error", after=only_errors.next_after, limit=2)
        assert [r.id for r in rest.rows] == (await _in_order(broken))[2:] and rest.next_after == ""
        assert (await admin_svc.bots_page(s, admin=me, after="1_x_y", limit=2)).rows[0].id == seen[0]


async def test_admin_page_refuses_an_owner(db):
    tenant = await make_tenant("shop@example.com")
    owner = CurrentUser(id=tenant.owner_id, email="shop@example.com", role="owner", locale="en")
    async with async_session() as s:
        with pytest.raises(PermissionError):
            await admin_svc.bots_page(s, admin=owner)


async def test_bots_pages_turn_through_an_owners_bots_and_only_theirs(db):
    """The owner's page (and the admin's) show one page at a time; next / previous / first walk them all."""
    from chatai.services import accounts, assistants
    from chatai.web.pages.admin_bots import AdminBotsState
    from chatai.web.pages.bots import BotsState
    from tests.factories import Tenant
    from tests.web.clients import signed_in_root

    async with async_session() as s:
        token = await accounts.sign_up(s, email="many@example.com", password="amber lantern 62 tides")
        user = await accounts.user_for_token(s, token)
        assistant = await assistants.create_assistant(s, owner_id=user.id, name="Many")
        await accounts.create_user(s, email="root@example.com", password="correct horse battery", role="admin")
        admin_token = await accounts.sign_in(s, email="root@example.com", password="correct horse battery")
    ids = await _in_order(await _bots(Tenant(user.id, assistant.id), bots_svc.PAGE_SIZE + 7))
    await _bots(await make_tenant("other@example.com"), 3)

    page = await (await signed_in_root(token)).get_state(BotsState)
    await BotsState.load_bots.fn(page)
    assert [b["id"] for b in page.bots] == [str(i) for i in ids[:bots_svc.PAGE_SIZE]]
    assert page.bots_total == len(ids) and page.next_cursor
    await BotsState.turn_page.fn(page, "next")
    assert [b["id"] for b in page.bots] == [str(i) for i in ids[bots_svc.PAGE_SIZE:]] and page.next_cursor == ""
    await BotsState.turn_page.fn(page, "next")  # nothing after the last page: it stays
    assert len(page.bots) == 7
    await BotsState.turn_page.fn(page, "prev")
    assert page.bots[0]["id"] == str(ids[0]) and page.page_starts == [""]

    admin = await (await signed_in_root(admin_token)).get_state(AdminBotsState)
    await AdminBotsState.load_admin_bots.fn(admin)
    assert len(admin.rows) == admin_svc.ADMIN_PAGE_SIZE and admin.next_cursor
    await AdminBotsState.turn_page.fn(admin, "next")
    assert len(admin.rows) == len(ids) + 3 - admin_svc.ADMIN_PAGE_SIZE and admin.next_cursor == ""
    await AdminBotsState.turn_page.fn(admin, "first")
    assert admin.rows[0]["id"] == str(ids[0])


async def test_cli_bots_list_prints_every_bot_once_across_pages(db):
    from tests.cli.test_core_cli import cli

    ids = await _bots(await make_tenant("a@example.com"), 5) + await _bots(await make_tenant("b@example.com"), 2)
    result = cli("bots", "list", "--page-size", "3")
    assert result.returncode == 0, result.stderr
    printed = [line.split()[0] for line in result.stdout.splitlines()]
    assert printed == [str(i) for i in await _in_order(ids)]
