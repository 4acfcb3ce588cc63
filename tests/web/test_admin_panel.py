"""Admin states: every event handler of every admin page refuses an owner (table-driven over the states'
event_handlers, so a new handler without the check fails here), and the pages work for an admin."""

from __future__ import annotations

import inspect
import uuid

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers the page states
from chatai.db.models import AuditLog, Bot, User
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants
from chatai.web.pages.admin import AdminOverviewState
from chatai.web.pages.admin_audit import AdminAuditState
from chatai.web.pages.admin_billing import AdminBillingState
from chatai.web.pages.admin_bots import AdminBotsState
from chatai.web.pages.admin_money import AdminMoneyState
from chatai.web.pages.admin_system import AdminSystemState
from chatai.web.pages.admin_users import AdminAccountState, AdminUsersState
from tests.web.clients import signed_in_root

ADMIN_STATES = (AdminOverviewState, AdminUsersState, AdminAccountState, AdminBotsState, AdminAuditState,
                AdminBillingState, AdminMoneyState, AdminSystemState)
FRAMEWORK_HANDLERS = {"setvar"}  # Reflex's own; sets a var of the caller's own tab, reaches no data
PASSWORD = "copper kettle 91 winds"


@pytest.fixture
async def world(db):
    async with async_session() as s:
        await accounts.create_user(s, email="root@example.com", password=PASSWORD, role="admin")
        admin_token = await accounts.sign_in(s, email="root@example.com", password=PASSWORD)
        owner_token = await accounts.sign_up(s, email="shop@example.com", password="amber lantern 62 tides")
        owner = (await s.execute(sa.select(User).where(User.email == "shop@example.com"))).scalar_one()
        assistant = await assistants.create_assistant(s, owner_id=owner.id, name="Support")
        bot = Bot(assistant_id=assistant.id, owner_id=owner.id, telegram_bot_id=42, username="shop_bot",
                  token_encrypted=encrypt_secret("42:" + "x" * 35), status="running")
        s.add(bot)
        await s.commit()
        return {"admin": admin_token, "owner": owner_token, "owner_id": str(owner.id), "bot": str(bot.id)}


def _argument(name: str, annotation: str, world: dict) -> object:
    """A plausible, harmful-if-honoured value for each parameter: the owner's own id, a form granting money."""
    if "dict" in annotation:
        return {"amount": "1000000", "reason": "free money", "item": "answer", "price": "0", "code": "FREE-MONEY",
                "bonus": "100000", "actor": "", "target": "", "kind": "admin"}
    if "bool" in annotation:
        return True
    if name in ("bot_id",):
        return world["bot"]
    if name == "action":
        return "pause"
    if name == "role":
        return "admin"
    if name in ("value",):
        return "balance"
    return world["owner_id"]


def _handler_calls(world: dict):
    for state_cls in ADMIN_STATES:
        for name, handler in state_cls.event_handlers.items():
            if name in FRAMEWORK_HANDLERS:
                continue
            params = list(inspect.signature(handler.fn).parameters.values())[1:]
            args = [_argument(p.name, str(p.annotation), world) for p in params]
            yield state_cls, name, handler, args


async def test_every_admin_handler_refuses_an_owner(world):
    calls = list(_handler_calls(world))
    assert len(calls) >= 20  # the table really covers the admin states
    async with async_session() as s:
        audit_before = (await s.execute(sa.select(sa.func.count()).select_from(AuditLog))).scalar_one()
    for state_cls, name, handler, args in calls:
        root = await signed_in_root(world["owner"])
        state = await root.get_state(state_cls)
        if state_cls is AdminAccountState:
            state.account_id = world["owner_id"]  # the owner aims at their own account
        result = handler.fn(state, *args)
        if inspect.isasyncgen(result):
            result = [r async for r in result]
            result = result[0] if result else None
        else:
            result = await result
        assert result is not None and "/signin" in repr(result), f"{state_cls.__name__}.{name} did not refuse"
    async with async_session() as s:
        owner = await s.get(User, uuid.UUID(world["owner_id"]))
        bot = await s.get(Bot, uuid.UUID(world["bot"]))
        audit_after = (await s.execute(sa.select(sa.func.count()).select_from(AuditLog))).scalar_one()
    assert owner.role == "owner" and not owner.blocked and bot.desired_state == "running"
    assert audit_after == audit_before


async def test_a_signed_out_client_is_refused_too(world):
    for state_cls, name, handler, args in _handler_calls(world):
        state = await (await signed_in_root("")).get_state(state_cls)
        result = await handler.fn(state, *args)
        assert result is not None and "/signin" in repr(result), f"{state_cls.__name__}.{name}"


async def test_admin_searches_opens_an_account_and_adjusts_the_balance(world, monkeypatch):
    root = await signed_in_root(world["admin"])
    users = await root.get_state(AdminUsersState)
    await AdminUsersState.load_admin_users.fn(users)
    assert {r["email"] for r in users.rows} == {"root@example.com", "shop@example.com"}
    await AdminUsersState.set_query.fn(users, "shop")
    assert [r["email"] for r in users.rows] == ["shop@example.com"]
    await AdminUsersState.set_sort.fn(users, "spend")
    assert users.sort == "spend" and len(users.rows) == 1

    monkeypatch.setattr(AdminAccountState, "_route_user_id", lambda self: world["owner_id"])
    account = await root.get_state(AdminAccountState)
    await AdminAccountState.load_admin_account.fn(account)
    assert account.email == "shop@example.com" and account.assistants == ["Support"]
    assert [b["username"] for b in account.bots] == ["shop_bot"]
    start = account.balance
    await AdminAccountState.handle_adjust_submit.fn(account, {"amount": "25.50", "reason": ""})
    assert account.error == "Write a reason for the change." and account.balance == start
    await AdminAccountState.handle_adjust_submit.fn(account, {"amount": "-1000000", "reason": "test"})
    assert account.error == "The balance is too low for this debit."
    await AdminAccountState.handle_adjust_submit.fn(account, {"amount": "25.50", "reason": "goodwill"})
    assert start == "₽250.00"  # the welcome credit, as an English admin writes money
    assert not account.error and account.balance == "₽275.50"
    assert account.ledger[0]["reason"] == "goodwill"
    await AdminAccountState.set_role.fn(account, "admin")
    assert account.role == "admin" and not account.error


async def test_admin_cannot_remove_their_own_admin_role_from_the_page(world, monkeypatch):
    async with async_session() as s:
        me = await accounts.get_user_by_email(s, email="root@example.com")
    monkeypatch.setattr(AdminAccountState, "_route_user_id", lambda self: str(me.id))
    account = await (await signed_in_root(world["admin"])).get_state(AdminAccountState)
    await AdminAccountState.load_admin_account.fn(account)
    await AdminAccountState.set_role.fn(account, "owner")
    assert account.error == "You cannot remove your own admin role. Ask another admin." and account.role == "admin"


async def test_admin_pauses_a_bot_and_reads_it_in_the_audit_log(world):
    root = await signed_in_root(world["admin"])
    bots_state = await root.get_state(AdminBotsState)
    await AdminBotsState.load_admin_bots.fn(bots_state)
    assert [(r["owner"], r["status"]) for r in bots_state.rows] == [("shop@example.com", "running")]
    await AdminBotsState.bot_action.fn(bots_state, world["bot"], "pause")
    assert bots_state.rows[0]["admin_paused"] == "1" and not bots_state.error
    await AdminBotsState.set_status_filter.fn(bots_state, "running")
    assert bots_state.rows == []

    log = await root.get_state(AdminAuditState)
    await AdminAuditState.load_admin_audit.fn(log)
    assert log.rows[0]["action"] == "admin.bot_pause" and log.rows[0]["actor"] == "root@example.com"
    await AdminAuditState.handle_filter_submit.fn(log, {"actor": "", "target": world["bot"], "since": "",
                                                        "until": ""})
    assert [r["action"] for r in log.rows] == ["admin.bot_pause"]
    await AdminAuditState.handle_filter_submit.fn(log, {"since": "yesterday"})
    assert log.error == "Write dates as YYYY-MM-DD, or leave them empty."
    await AdminAuditState.handle_filter_submit.fn(log, {"actor": "root@"})
    download = await AdminAuditState.export_csv.fn(log)
    assert "chatai-audit-" in repr(download)
