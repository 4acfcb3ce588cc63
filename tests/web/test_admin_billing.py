"""Admin prices and promo codes: admins change them (audited, new charges only); owners cannot."""

from __future__ import annotations

import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers the page states
from chatai.db.models import AuditLog
from chatai.db.money_models import PromoCode
from chatai.db.session import async_session
from chatai.services import accounts, billing
from chatai.web.pages.admin_billing import AdminBillingState
from tests.web.clients import signed_in_root


async def _tokens():
    async with async_session() as session:
        await accounts.create_user(session, email="root@example.com", password="copper kettle 91 winds",
                                   role="admin")
        admin = await accounts.sign_in(session, email="root@example.com", password="copper kettle 91 winds")
        owner = await accounts.sign_up(session, email="shop@example.com", password="amber lantern 62 tides")
    return admin, owner


async def test_admin_sets_a_price_and_creates_and_disables_a_promo(db):
    admin, _ = await _tokens()
    state = await (await signed_in_root(admin)).get_state(AdminBillingState)
    await AdminBillingState.load_admin_billing.fn(state)
    assert [p["item"] for p in state.prices] == list(billing.PRICE_ITEMS)
    await AdminBillingState.handle_price_submit.fn(state, {"item": "answer", "price": "7.50"})
    assert not state.error
    assert next(p for p in state.prices if p["item"] == "answer")["price"] == "7.50"
    await AdminBillingState.handle_price_submit.fn(state, {"item": "answer", "price": "-1"})
    assert state.error == "Enter a price of 0 or more, like 5 or 4.50."
    await AdminBillingState.handle_promo_submit.fn(state, {"code": "spring-2030", "bonus": "100",
                                                           "max_redemptions": "3", "expires": "2030-01-31"})
    assert not state.error and state.promos[0]["code"] == "SPRING-2030" and state.promos[0]["active"]
    await AdminBillingState.handle_promo_submit.fn(state, {"code": "spring-2030", "bonus": "100"})
    assert state.error == "A promo code with this name already exists."
    await AdminBillingState.handle_promo_submit.fn(state, {"code": "x1y", "bonus": "5", "expires": "31.01.2030"})
    assert "YYYY-MM-DD" in state.error
    await AdminBillingState.set_promo_active.fn(state, state.promos[0]["id"], False)
    assert state.promos[0]["active"] == ""
    async with async_session() as session:
        actions = [a for (a,) in (await session.execute(sa.select(AuditLog.action))).all()]
    assert actions.count("billing.price") == 1
    assert actions.count("billing.promo_create") == 1 and actions.count("billing.promo_disable") == 1


async def test_an_owner_cannot_touch_prices_or_promos(db):
    _, owner = await _tokens()
    state = await (await signed_in_root(owner)).get_state(AdminBillingState)
    for call in (AdminBillingState.load_admin_billing.fn(state),
                 AdminBillingState.handle_price_submit.fn(state, {"item": "answer", "price": "0"}),
                 AdminBillingState.handle_promo_submit.fn(state, {"code": "FREE-MONEY", "bonus": "100000"}),
                 AdminBillingState.set_promo_active.fn(state, "00000000-0000-0000-0000-000000000000", True)):
        result = await call
        assert result is not None and "/signin" in repr(result)
    async with async_session() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(PromoCode))).scalar() == 0
        assert (await session.execute(sa.select(sa.func.count()).select_from(AuditLog)
                                      .where(AuditLog.action.like("billing.%")))).scalar() == 0


async def test_admin_gets_a_generated_code_when_the_field_is_empty_and_a_sentence_for_a_weak_one(db):
    from chatai.services import promo

    admin, _ = await _tokens()
    state = await (await signed_in_root(admin)).get_state(AdminBillingState)
    await AdminBillingState.handle_promo_submit.fn(state, {"code": "", "bonus": "100"})
    generated = state.promos[0]["code"]
    assert not state.error and state.message == f"Promo code {generated} created."
    assert len(generated) == promo.GENERATED_GROUPS * (promo.GENERATED_GROUP_LENGTH + 1) - 1
    await AdminBillingState.handle_promo_submit.fn(state, {"code": "SPRING", "bonus": "100"})
    assert state.error.startswith("A code you type needs at least 10 characters, 6 of them different")
    async with async_session() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(PromoCode))).scalar() == 1
