"""Stored codes and amounts shown to people are in the reader's words and terms (issue 23's Russian walk:
"running", "polling" and "Mail queue: ..." on the admin pages; money as `250.00 RUB`; times in UTC). The
i18n test covers the keys pages name; this one covers values that come from the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers the page states
from chatai.db.mail_models import OutboxMail
from chatai.db.models import AuditLog, Bot, User
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants
from chatai.web.components.email_banner import MailStatusState
from chatai.web.i18n import EN, RU
from chatai.web.pages.admin_audit import AdminAuditState
from chatai.web.pages.admin_bots import AdminBotsState
from chatai.web.pages.admin_users import AdminAccountState, AdminUsersState
from chatai.web.texts.stored_values import STORED_VALUES
from tests.web.clients import signed_in_root

PASSWORD = "copper kettle 91 winds"
NBSP = "\u00a0"


def test_every_stored_code_has_words_in_both_languages():
    from chatai import metrics
    from chatai.services import admin as admin_svc

    # The codes the services and the runner write are those this module gives words to.
    assert set(admin_svc.BOT_STATUSES) == set(metrics.BOT_STATUSES) == set(STORED_VALUES["bot_status"])
    assert Bot.model_fields["mode"].default in STORED_VALUES["bot_mode"]
    for field, codes in STORED_VALUES.items():
        for code in codes:
            key = f"stored_{field}_{code}"
            assert key in EN and key in RU, key
            assert RU[key] != EN[key] and RU[key] != code, key  # a Russian word, not the code again


def test_every_ledger_kind_and_answer_source_has_words_in_both_languages():
    """Ledger kinds (the owner's history, the admin's account page) and who answered a message (inbox,
    playground) are stored as codes: each has a Russian word of its own."""
    from chatai.db.money_models import LEDGER_KINDS
    from chatai.web.state.inbox import ANSWERED_BY

    for kind in LEDGER_KINDS:
        key = f"billing_kind_{kind}"
        assert key in EN and RU[key] != EN[key], key
    keys = {"llm": "answered_by_llm", "qa": "answered_by_qa", "extractive": "answered_by_extractive",
            "fallback": "answered_by_fallback", "operator": "inbox_answered_operator",
            "greeting": "inbox_answered_greeting", "notice": "inbox_answered_notice"}
    assert set(ANSWERED_BY) == set(keys)
    assert all(key in EN and RU[key] != EN[key] for key in keys.values())


@pytest.fixture
async def russian_admin(db, monkeypatch):
    from chatai.settings import get_settings

    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")  # mail on: the admin overview summarises the queue
    get_settings.cache_clear()
    async with async_session() as s:
        await accounts.create_user(s, email="root@example.com", password=PASSWORD, role="admin", locale="ru",
                                   time_zone="Asia/Yekaterinburg")
        admin_token = await accounts.sign_in(s, email="root@example.com", password=PASSWORD)
        owner = await accounts.create_user(s, email="shop@example.com", password="amber lantern 62 tides")
        assistant = await assistants.create_assistant(s, owner_id=owner.id, name="Support")
        s.add(Bot(assistant_id=assistant.id, owner_id=owner.id, telegram_bot_id=42, username="shop_bot",
                  token_encrypted=encrypt_secret("42:" + "x" * 35), status="running", mode="polling"))
        s.add(OutboxMail(to_addr="a@example.com", kind="verify"))
        await s.commit()
    yield admin_token, owner.id
    get_settings.cache_clear()


async def test_the_russian_admin_pages_show_bots_and_the_mail_queue_in_russian(russian_admin):
    token, _owner = russian_admin
    root = await signed_in_root(token)
    bots = await root.get_state(AdminBotsState)
    await AdminBotsState.load_admin_bots.fn(bots)
    [row] = bots.rows
    assert (row["status_label"], row["mode"]) == ("Работает", "Опрос (polling)")
    mail_status = await root.get_state(MailStatusState)
    await MailStatusState.load_mail_status.fn(mail_status)
    assert mail_status.summary == "Очередь писем: ждут отправки 1, не доставлено за сутки 0."


async def test_admin_money_and_times_are_in_the_admins_terms(russian_admin, monkeypatch):
    token, owner_id = russian_admin
    async with async_session() as s:
        await s.execute(sa.update(User).where(User.id == owner_id)
                        .values(created_at=datetime(2026, 12, 5, 20, 30, tzinfo=UTC)))
        s.add(AuditLog(actor_id=None, action="user.block", target_type="user", target_id=str(owner_id),
                       created_at=datetime(2026, 12, 5, 16, 5, tzinfo=UTC)))
        await s.commit()
    root = await signed_in_root(token)
    users = await root.get_state(AdminUsersState)
    await AdminUsersState.load_admin_users.fn(users)
    shop = next(r for r in users.rows if r["email"] == "shop@example.com")
    assert shop["balance"] == f"250,00{NBSP}₽"  # the welcome credit, as a Russian admin writes money
    assert shop["created"] == "2026-12-06"  # 20:30 UTC is past midnight in Yekaterinburg (UTC+5)
    monkeypatch.setattr(AdminAccountState, "_route_user_id", lambda self: str(owner_id))
    account = await root.get_state(AdminAccountState)
    await AdminAccountState.load_admin_account.fn(account)
    assert [e["kind"] for e in account.ledger] == ["Приветственный бонус"]  # not the ledger's code "welcome"
    assert account.ledger[0]["amount"] == f"250,00{NBSP}₽" and account.balance == f"250,00{NBSP}₽"
    audit = await root.get_state(AdminAuditState)
    await AdminAuditState.load_admin_audit.fn(audit)
    block = next(e for e in audit.rows if e["action"] == "user.block")
    assert block["when"] == "2026-12-05 21:05:00"


async def test_the_audit_filter_reads_typed_days_on_the_admins_clock(russian_admin):
    """21:05 UTC on 5 December is 6 December in Yekaterinburg: the admin finds it under the day they see."""
    token, owner_id = russian_admin
    async with async_session() as s:
        s.add(AuditLog(actor_id=None, action="user.block", target_type="user", target_id=str(owner_id),
                       created_at=datetime(2026, 12, 5, 21, 5, tzinfo=UTC)))
        await s.commit()
    audit = await (await signed_in_root(token)).get_state(AdminAuditState)
    await AdminAuditState.load_admin_audit.fn(audit)
    await AdminAuditState.handle_filter_submit.fn(audit, {"actor": "", "target": "", "since": "2026-12-06",
                                                          "until": "2026-12-06"})
    assert [(r["action"], r["when"]) for r in audit.rows if r["action"] == "user.block"] == [
        ("user.block", "2026-12-06 02:05:00")]
    await AdminAuditState.handle_filter_submit.fn(audit, {"actor": "", "target": "", "since": "2026-12-05",
                                                          "until": "2026-12-05"})
    assert [r for r in audit.rows if r["action"] == "user.block"] == []
