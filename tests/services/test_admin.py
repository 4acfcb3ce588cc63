"""Admin services: the user list (sort keys kept by triggers, keyset pages), roles with last-admin protection,
balance adjustments, admin bot actions, and exactly one audit row per admin action."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from chatai.db.models import MICRO, AuditLog, Bot, BotEvent, User, UserActivity
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, admin, billing, bots, charges
from chatai.services.accounts import AccountError, CurrentUser
from chatai.services.billing import BillingError, format_amount

PASSWORD = "copper kettle 91 winds"


async def _admin(email: str = "root@example.com") -> CurrentUser:
    async with async_session() as s:
        user = await accounts.create_user(s, email=email, password=PASSWORD, role="admin")
    return CurrentUser(id=user.id, email=user.email, role="admin", locale="en")


async def _owner(email: str) -> uuid.UUID:
    async with async_session() as s:
        return (await accounts.create_user(s, email=email, password=PASSWORD)).id


async def _bot(owner_id: uuid.UUID, telegram_id: int = 42) -> uuid.UUID:
    async with async_session() as s:
        from chatai.services import assistants

        assistant = await assistants.create_assistant(s, owner_id=owner_id, name="Support")
        bot = Bot(assistant_id=assistant.id, owner_id=owner_id, telegram_bot_id=telegram_id, username="shop_bot",
                  token_encrypted=encrypt_secret(f"{telegram_id}:" + "x" * 35), status="running")
        s.add(bot)
        await s.commit()
        return bot.id


async def _audit(action: str) -> list[AuditLog]:
    async with async_session() as s:
        return list((await s.execute(sa.select(AuditLog).where(AuditLog.action == action))).scalars())


async def test_spend_and_last_activity_are_kept_by_triggers(db):
    owner = await _owner("shop@example.com")
    async with async_session() as s:
        before = await s.get(UserActivity, owner)
        assert before is not None and before.spent_micros == 0
        assert await charges.reserve(s, account_id=owner, key="k1", amount_micros=3 * MICRO) == "reserved"
        await charges.settle_charge(s, key="k1", commit=True)
        assert await charges.reserve(s, account_id=owner, key="k2", amount_micros=2 * MICRO) == "reserved"
        await charges.settle_charge(s, key="k2", commit=False)  # released: not spend
        await s.commit()
        await accounts.sign_in(s, email="shop@example.com", password=PASSWORD)
    async with async_session() as s:
        after = await s.get(UserActivity, owner)
    assert after.spent_micros == 3 * MICRO
    assert after.last_active_at > before.last_active_at


async def test_list_users_searches_sorts_and_pages_by_keyset(db):
    me = await _admin()
    ids = [await _owner(f"shop{i}@example.com") for i in range(5)]
    async with async_session() as s:
        for i, user_id in enumerate(ids):
            await billing.adjust(s, account_id=user_id, amount_micros=(i + 1) * MICRO, reason="test", actor_id=me.id)
        await s.commit()
        by_balance = await admin.list_users(s, admin=me, sort="balance", query="shop")
        assert [r.id for r in by_balance] == list(reversed(ids))
        seen, after = [], ""
        while True:
            page = await admin.list_users(s, admin=me, sort="balance", descending=False, after=after, limit=2)
            if not page:
                break
            seen += [r.id for r in page]
            after = page[-1].cursor("balance")
        assert seen == [me.id, *ids]  # the admin has no welcome credit: balance 0 comes first
        signup_pages = [await admin.list_users(s, admin=me, sort="signup", limit=3)]
        signup_pages.append(await admin.list_users(s, admin=me, sort="signup", limit=3,
                                                   after=signup_pages[0][-1].cursor("signup")))
        assert [r.id for p in signup_pages for r in p] == [*reversed(ids), me.id]
        for sort in admin.SORTS:
            assert len(await admin.list_users(s, admin=me, sort=sort)) == 6
        assert [r.email for r in await admin.list_users(s, admin=me, query="SHOP3")] == ["shop3@example.com"]
        assert await admin.list_users(s, admin=me, query="100%_") == []  # LIKE wildcards are literal
        with pytest.raises(PermissionError):
            await admin.list_users(s, admin=CurrentUser(id=ids[0], email="x", role="owner", locale="en"))


async def test_roles_keep_one_admin_and_an_admin_cannot_demote_themselves(db):
    first = await _admin()
    owner = await _owner("shop@example.com")
    async with async_session() as s:
        with pytest.raises(AccountError, match="admin_role_self"):
            await admin.set_role(s, admin=first, user_id=first.id, role="owner")
    async with async_session() as s:
        await admin.set_role(s, admin=first, user_id=owner, role="admin", client="198.51.100.7")
    second = CurrentUser(id=owner, email="shop@example.com", role="admin", locale="en")
    async with async_session() as s:
        await admin.set_role(s, admin=second, user_id=first.id, role="owner")
    # `first` still holds a stale admin view: the database says there is one admin left, and it is `second`.
    async with async_session() as s:
        with pytest.raises(AccountError, match="admin_last_admin"):
            await admin.set_role(s, admin=first, user_id=owner, role="owner")
        assert await accounts.count_admins(s) == 1
    rows = await _audit("admin.role")
    assert len(rows) == 2
    assert {(r.details["before"]["role"], r.details["after"]["role"]) for r in rows} == {("owner", "admin"),
                                                                                       ("admin", "owner")}
    assert any(r.client == "198.51.100.7" for r in rows)


async def test_adjust_requires_a_reason_and_is_audited_once(db):
    me = await _admin()
    owner = await _owner("shop@example.com")
    async with async_session() as s:
        with pytest.raises(BillingError, match="reason_required"):
            await admin.adjust_balance(s, admin=me, user_id=owner, amount_micros=MICRO, reason="  ")
    async with async_session() as s:
        start = (await billing.get_balance(s, user_id=owner)).balance_micros
        await admin.adjust_balance(s, admin=me, user_id=owner, amount_micros=-MICRO, reason="refund reversal")
        assert (await billing.get_balance(s, user_id=owner)).balance_micros == start - MICRO
    async with async_session() as s:
        with pytest.raises(BillingError, match="insufficient"):
            await admin.adjust_balance(s, admin=me, user_id=owner, amount_micros=-10**6 * MICRO, reason="too much")
    (row,) = await _audit("billing.adjust")
    assert row.details == {"amount": "-1.00", "reason": "refund reversal", "balance_before": format_amount(start),
                           "balance_after": format_amount(start - MICRO)}


async def test_admin_pause_marks_the_bot_and_the_owner_cannot_resume_it(db):
    me = await _admin()
    owner = await _owner("shop@example.com")
    bot_id = await _bot(owner)
    async with async_session() as s:
        await admin.bot_action(s, admin=me, bot_id=bot_id, action="pause", client="198.51.100.7")
    async with async_session() as s:
        bot = await s.get(Bot, bot_id)
        assert (bot.desired_state, bot.status) == (admin.ADMIN_PAUSED, "paused")
        events = (await s.execute(sa.select(BotEvent.message).where(BotEvent.bot_id == bot_id))).scalars().all()
        assert events == ["Paused by a platform administrator."]
        for owner_action in (bots.resume_bot, bots.pause_bot):
            with pytest.raises(bots.BotError, match="administrator"):
                await owner_action(s, owner_id=owner, bot_id=bot_id)
    # Blocking and unblocking the owner leaves an admin pause alone.
    async with async_session() as s:
        await accounts.set_blocked(s, admin=me, user_id=owner, blocked=True)
    async with async_session() as s:
        with pytest.raises(AccountError, match="admin_bot_owner_blocked"):
            await admin.bot_action(s, admin=me, bot_id=bot_id, action="resume")
        await accounts.set_blocked(s, admin=me, user_id=owner, blocked=False)
    async with async_session() as s:
        assert (await s.get(Bot, bot_id)).desired_state == admin.ADMIN_PAUSED
        await admin.bot_action(s, admin=me, bot_id=bot_id, action="resume")
        await admin.bot_action(s, admin=me, bot_id=bot_id, action="restart")
    async with async_session() as s:
        bot = await s.get(Bot, bot_id)
        assert (bot.desired_state, bot.status) == ("running", "starting")
        listed = await admin.list_bots(s, admin=me, status="starting")
        assert [(b.owner_email, b.username) for b in listed] == [("shop@example.com", "shop_bot")]
        assert await admin.list_bots(s, admin=me, status="error") == []
    pause = await _audit("admin.bot_pause")
    assert len(pause) == 1 and pause[0].actor_id == me.id and pause[0].target_id == str(bot_id)
    assert pause[0].details["before"]["desired_state"] == "running" and pause[0].client == "198.51.100.7"
    assert len(await _audit("admin.bot_resume")) == 1 and len(await _audit("admin.bot_restart")) == 1


async def test_account_detail(db):
    me = await _admin()
    owner = await _owner("shop@example.com")
    await _bot(owner)
    async with async_session() as s:
        detail = await admin.get_account(s, admin=me, user_id=owner)
        with pytest.raises(AccountError):
            await admin.get_account(s, admin=me, user_id=uuid.uuid4())
    assert detail.email == "shop@example.com" and detail.assistants == ["Support"]
    assert [(b.username, b.status) for b in detail.bots] == [("shop_bot", "running")]
    assert detail.documents == 0 and detail.dialogs_this_month == 0 and len(detail.spend_per_day) == 30
    assert [e.kind for e in detail.ledger] == ["welcome"] or detail.ledger == []


async def test_each_admin_action_writes_exactly_one_audit_row(db):
    """Block, unblock, role, adjustment, price, promo create/disable, bot pause: one row each, with actor,
    target, client and before/after (or the values changed)."""
    from chatai.services import promo

    me = await _admin()
    owner = await _owner("shop@example.com")
    bot_id = await _bot(owner)
    client = "198.51.100.7"
    actions = [
        lambda s: accounts.set_blocked(s, admin=me, user_id=owner, blocked=True, client=client),
        lambda s: accounts.set_blocked(s, admin=me, user_id=owner, blocked=False, client=client),
        lambda s: admin.set_role(s, admin=me, user_id=owner, role="admin", client=client),
        lambda s: admin.adjust_balance(s, admin=me, user_id=owner, amount_micros=MICRO, reason="goodwill",
                                       client=client),
        lambda s: _commit_after(s, billing.set_price(s, item="answer", channel="telegram", price_micros=MICRO,
                                                     actor_id=me.id, client=client)),
        lambda s: _commit_after(s, promo.create_promo(s, code="SPRING-2030", bonus_micros=MICRO, max_redemptions=1,
                                                      expires_at=None, actor_id=me.id, client=client)),
        lambda s: admin.bot_action(s, admin=me, bot_id=bot_id, action="pause", client=client),
    ]
    async with async_session() as s:
        start = (await s.execute(sa.select(sa.func.count()).select_from(AuditLog))).scalar_one()
    for action in actions:
        async with async_session() as s:
            await action(s)
        async with async_session() as s:
            rows = (await s.execute(sa.select(AuditLog).order_by(AuditLog.created_at.desc()))).scalars().all()
        assert len(rows) == start + 1, rows[0].action
        start += 1
        newest = rows[0]
        assert newest.actor_id == me.id and newest.client == client and newest.target_id and newest.details
    async with async_session() as s:
        assert (await s.get(User, owner)).role == "admin"


async def _commit_after(session, pending):
    await pending
    await session.commit()
