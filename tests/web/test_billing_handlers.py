"""Billing page handlers on a real state tree: each owner sees only their own money, and no handler
credits a balance without the payment provider's word."""

from __future__ import annotations

import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import AuditLog, User
from chatai.db.money_models import BillingAccount
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.web.pages.billing import BillingState
from tests.web.clients import signed_in_root


async def _billing(token: str) -> BillingState:
    root = await signed_in_root(token)
    return await root.get_state(BillingState)


async def test_owner_sees_own_balance_and_cannot_top_up_without_a_provider(db, monkeypatch):
    from chatai.settings import get_settings

    monkeypatch.setenv("YOOKASSA_SHOP_ID", "")
    get_settings.cache_clear()
    async with async_session() as s:
        token = await accounts.sign_up(s, email="a@example.com", password="password a")
    state = await _billing(token)
    await BillingState.load_billing.fn(state)
    assert state.balance == "₽250.00" and [e["kind"] for e in state.entries] == ["welcome"]
    await BillingState.topup_preset.fn(state, "500")
    await BillingState.confirm_topup.fn(state)
    assert "not set up" in state.error
    await BillingState.handle_topup_submit.fn(state, {"amount": "1000000000"})
    async with async_session() as s:
        user = (await s.execute(User.__table__.select().where(User.email == "a@example.com"))).first()
        assert (await s.get(BillingAccount, user.id)).balance_micros == 250_000_000  # nothing credited


async def test_promo_handler_reports_errors_as_sentences(db):
    async with async_session() as s:
        token = await accounts.sign_up(s, email="b@example.com", password="password b")
    state = await _billing(token)
    await BillingState.handle_promo_submit.fn(state, {"code": "NOSUCHCODE"})
    assert state.error.endswith(".") and "promo" in state.error.lower()



async def test_balance_banner_warns_when_few_answers_are_left_and_at_zero(db):
    from chatai.db.session import async_session
    from chatai.services import accounts, billing
    from chatai.web.components.balance_banner import BalanceBannerState
    from tests.web.clients import signed_in_root

    async with async_session() as session:
        token = await accounts.sign_up(session, email="banner@example.com", password="quiet violet harbor 42")
        user = await accounts.user_for_token(session, token)
    root = await signed_in_root(token)
    state = await root.get_state(BalanceBannerState)
    shown = {}
    for price in (1, 50, 300):  # the welcome credit (250) covers 250, 5 and 0 answers
        async with async_session() as session:
            await billing.set_price(session, item="answer", channel="telegram", price_micros=price * 1_000_000,
                                    actor_id=user.id)
            await session.commit()
        await BalanceBannerState.load_balance_banner.fn(state)
        shown[price] = (state.message, state.zero)
    assert shown[1] == ("", False)
    assert "5" in shown[50][0] and not shown[50][1]
    assert shown[300][0] and shown[300][1]


async def test_promo_guessing_is_refused_with_a_sentence_saying_when_to_retry(db):
    from chatai.services import promo

    async with async_session() as s:
        token = await accounts.sign_up(s, email="g@example.com", password="password g")
    root = await signed_in_root(token, client_ip="203.0.113.50")
    state = await root.get_state(BillingState)
    errors = []
    for n in range(promo.OWNER_ATTEMPTS.max_hits + 1):
        await BillingState.handle_promo_submit.fn(state, {"code": f"GUESS-{n:05d}-AB"})
        errors.append(state.error)
    assert all("does not exist" in e for e in errors[:-1])
    assert errors[-1].startswith("Too many promo code attempts") and errors[-1].endswith(" min.")
    assert int(errors[-1].split(" in ")[-1].split()[0]) == promo.OWNER_ATTEMPTS.window_seconds // 60
    async with async_session() as s:  # the signed-in user's language is what handlers speak
        await s.execute(sa.update(User).where(User.email == "g@example.com").values(locale="ru"))
        await s.commit()
    await BillingState.handle_promo_submit.fn(state, {"code": "ANY-CODE-2030"})
    assert state.error.startswith("Слишком много попыток") and state.error.endswith(" мин.")
    async with async_session() as s:
        clients = (await s.execute(sa.select(AuditLog.client).where(AuditLog.action == "billing.promo_refused")))
        assert set(clients.scalars()) == {"203.0.113.50"}


async def test_a_preset_asks_before_leaving_for_the_payment_page(db, monkeypatch):
    """The 500 preset went straight to payment: now it names the amount and waits for "Pay"."""
    from chatai.settings import get_settings

    monkeypatch.setenv("YOOKASSA_SHOP_ID", "")
    get_settings.cache_clear()
    async with async_session() as s:
        token = await accounts.sign_up(s, email="preset@example.com", password="password p", locale="ru")
    state = await _billing(token)
    await BillingState.load_billing.fn(state)
    assert [p["label"] for p in state.presets][:2] == ["500,00\u00a0₽", "1\u00a0000,00\u00a0₽"]
    assert await BillingState.topup_preset.fn(state, "500") is None  # no redirect, no payment started
    assert state.error == "" and state.confirm_amount == "500"
    assert state.confirm_text == "Пополнить баланс на 500,00\u00a0₽? Откроется страница оплаты этой суммы."
    BillingState.cancel_topup.fn(state)
    assert state.confirm_amount == "" and await BillingState.confirm_topup.fn(state) is None
    assert state.error == ""  # cancelled: confirming nothing does nothing
    await BillingState.topup_preset.fn(state, "3")  # not a preset: refused in words, nothing pending
    assert state.confirm_amount == "" and state.error.startswith("Введите сумму")
    await BillingState.topup_preset.fn(state, "500")
    await BillingState.confirm_topup.fn(state)  # confirmed: the top-up starts (no provider here)
    assert state.error.startswith("Оплата картой на платформе ещё не настроена")
    assert state.confirm_amount == ""
