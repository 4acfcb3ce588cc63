"""Admin money and system pages for an admin: figures and the editable LLM price table (audited), the system
snapshot (queue, last errors of every kind) and its live refresh stopping when the tab is gone."""

from __future__ import annotations

import sqlalchemy as sa

from chatai.db.models import MICRO, AuditLog, Bot, Dialog, Document, Message, TelegramUpdate, User
from chatai.db.money_models import LedgerEntry
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants
from chatai.web.pages import admin_system
from chatai.web.pages.admin_money import AdminMoneyState, format_usd
from chatai.web.pages.admin_system import AdminSystemState
from tests.web.clients import signed_in_root

PASSWORD = "copper kettle 91 winds"


async def _admin_token() -> str:
    async with async_session() as s:
        await accounts.create_user(s, email="root@example.com", password=PASSWORD, role="admin")
        return await accounts.sign_in(s, email="root@example.com", password=PASSWORD)


async def _owner_with_trouble() -> None:
    """One account with a paid LLM answer today, and one error of each kind the system page lists."""
    async with async_session() as s:
        await accounts.sign_up(s, email="shop@example.com", password="amber lantern 62 tides")
        owner = (await s.execute(sa.select(User).where(User.email == "shop@example.com"))).scalar_one()
        assistant = await assistants.create_assistant(s, owner_id=owner.id, name="Support")
        bot = Bot(assistant_id=assistant.id, owner_id=owner.id, telegram_bot_id=42, username="shop_bot",
                  token_encrypted=encrypt_secret("42:" + "x" * 35), status="error",
                  last_error="Telegram refused the token.")
        s.add(bot)
        await s.flush()
        dialog = Dialog(assistant_id=assistant.id, owner_id=owner.id, bot_id=bot.id, telegram_chat_id=7)
        s.add(dialog)
        await s.flush()
        s.add_all([
            Document(assistant_id=assistant.id, filename="prices.pdf", content_hash="h1", status="error",
                     error="The file could not be read."),
            Document(assistant_id=assistant.id, filename="faq.txt", content_hash="h2", status="queued"),
            Message(dialog_id=dialog.id, role="assistant", text="hi", answered_by="llm", prompt_tokens=1_000_000,
                    completion_tokens=0),  # gpt-4o-mini: 0.15 USD
            Message(dialog_id=dialog.id, role="operator", text="hello", delivery_status="failed",
                    delivery_error="The customer blocked the bot."),
            TelegramUpdate(bot_id=bot.id, update_id=1, status="failed"),
            LedgerEntry(account_id=owner.id, amount_micros=-5 * MICRO, kind="commit", idempotency_key="c1",
                        balance_after_micros=0),
        ])
        await s.commit()


async def test_admin_sees_money_figures_and_edits_a_model_price(db, monkeypatch):
    from chatai.settings import get_settings

    monkeypatch.setattr(get_settings(), "llm_usd_rate", 100.0)
    monkeypatch.setattr(get_settings(), "openai_chat_model", "gpt-4o-mini")
    token = await _admin_token()
    await _owner_with_trouble()
    state = await (await signed_in_root(token)).get_state(AdminMoneyState)
    await AdminMoneyState.load_admin_money.fn(state)
    # The answer was paid from the welcome credit: bonus money, not revenue (the walk saw a 100 % margin).
    assert {k: state.totals[k] for k in ("answers", "revenue", "bonus", "cost", "margin", "margin_pct")} == {
        "answers": "1", "revenue": "0.00", "bonus": "5.00", "cost": "15.00", "margin": "−15.00", "margin_pct": "—"}
    assert state.accounts[0]["email"] == "shop@example.com" and state.accounts[0]["negative"] == "1"
    assert len(state.chart) == 30 and state.chart[-1]["cost"] == 15.0
    assert {"model": "gpt-4o-mini", "prompt": "0.15", "completion": "0.60", "custom": ""} in state.prices

    await AdminMoneyState.handle_model_price_submit.fn(state, {"model": "gpt-4o-mini", "prompt": "free",
                                                               "completion": "1"})
    assert state.error == "Enter prices in USD per 1 million tokens, like 0.15 or 2.50."
    await AdminMoneyState.handle_model_price_submit.fn(state, {"model": "gpt-4o-mini", "prompt": "0.05",
                                                               "completion": "0.60"})
    assert not state.error and state.totals["cost"] == "5.00" and state.totals["margin"] == "−5.00"
    await AdminMoneyState.set_period.fn(state, "7")
    assert state.period == "7" and len(state.chart) == 7
    async with async_session() as s:
        audited = (await s.execute(sa.select(sa.func.count()).select_from(AuditLog)
                                   .where(AuditLog.action == "admin.model_price"))).scalar_one()
    assert audited == 1


def test_usd_prices_are_shown_without_losing_digits():
    assert [format_usd(v) for v in (150_000, 2_500_000, 10_000_000, 1)] == ["0.15", "2.50", "10.00", "0.000001"]


async def test_system_page_shows_the_queue_and_every_kind_of_error(db):
    token = await _admin_token()
    await _owner_with_trouble()
    state = await (await signed_in_root(token)).get_state(AdminSystemState)
    follow_up = await AdminSystemState.load_admin_system.fn(state)
    assert "watch_system" in repr(follow_up)
    assert state.queue == {"waiting": 1, "processing": 0, "failed": 1}
    assert {e["kind"]: (e["subject"], e["detail"]) for e in state.errors} == {
        "ingest": ("prices.pdf", "The file could not be read."),
        "bot": ("shop_bot", "Telegram refused the token."),
        "send": ("shop_bot", "The customer blocked the bot."),
        "update": ("shop_bot", ""),
    }
    assert {row["name"] for row in state.health} == {"database", "redis", "bot_runner"}
    assert state.disk["data"].endswith("B") and state.updated_at


async def test_system_refresh_stops_when_the_tab_is_closed(db, monkeypatch):
    token = await _admin_token()
    state = await (await signed_in_root(token)).get_state(AdminSystemState)
    snapshots = []

    async def counting_snapshot(admin, locale):
        snapshots.append(admin.email)
        return {"health": [], "queue": {}, "disk": {}, "errors": [], "updated_at": "now"}

    monkeypatch.setattr(admin_system, "POLL_SECONDS", 0)
    monkeypatch.setattr(admin_system, "_snapshot", counting_snapshot)
    monkeypatch.setattr(admin_system, "client_connected", lambda state: False)  # the tab closed
    on_the_page = type("Router", (), {"url": type("Url", (), {"path": "/admin/system"})()})()
    monkeypatch.setattr(AdminSystemState, "router", on_the_page, raising=False)
    await AdminSystemState.watch_system.fn(state)
    assert snapshots == [] and state.watching is False

    monkeypatch.setattr(admin_system, "client_connected", lambda state: True)
    monkeypatch.setattr(admin_system, "MAX_POLLS", 3)
    await AdminSystemState.watch_system.fn(state)
    assert snapshots == ["root@example.com"] * 3 and state.updated_at == "now"
