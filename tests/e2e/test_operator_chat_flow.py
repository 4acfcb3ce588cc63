"""The operator chat (issue 22 part 1) end to end: the settings card's one-time link opened in Telegram links
the account (its name shows in the card), an alert reaches it when a customer asks for a person, and what
the operator does in Telegram (take over, a reply to the alert) shows live in the open inbox. The bot
runner is its own process (tests/e2e/conftest.py), the Bot API the fake one."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.e2e.test_inbox_live import _connect_bot
from tests.fakes.telegram_updates import callback_update, reply_update
from tests.waits import PATIENCE

OPERATOR, CUSTOMER = 5151, 6161


def _in_chat(telegram, token: str, chat_id: int, count: int) -> list[dict]:
    deadline = time.monotonic() + PATIENCE
    while True:
        sent = [m for m in telegram.sent_messages(token) if m["chat_id"] == chat_id]
        if len(sent) >= count or time.monotonic() > deadline:
            assert len(sent) >= count, sent
            return sent
        time.sleep(0.1)


def test_link_in_settings_then_alert_take_over_and_reply_from_telegram(page, telegram, bot_runner):
    from chatai.web.i18n import text

    sign_up(page, f"ops-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Shop helper")
    token = _connect_bot(page, telegram)
    username = telegram.bot(token).username

    open_page(page, "/dashboard/settings")
    page.click("#operators-get-link")
    link = page.locator("#operators-link")
    expect(link).to_contain_text(f"https://t.me/{username}?start=op_")
    code = link.inner_text().split("start=", 1)[1]
    telegram.push_text(token, f"/start {code}", chat_id=OPERATOR, first_name="Olga")
    assert _in_chat(telegram, token, OPERATOR, 1)[0]["text"] == text("en", "opchat_linked")
    open_page(page, "/dashboard/settings")
    expect(page.locator("#operators-table")).to_contain_text("Olga")

    open_page(page, "/dashboard/inbox")
    telegram.push_text(token, "Позовите оператора", chat_id=CUSTOMER, first_name="Mallory")
    alert = _in_chat(telegram, token, OPERATOR, 2)[1]
    assert alert["text"].startswith(text("en", "opchat_alert", customer="Mallory", bot=username))
    page.locator(".dialog-item", has_text="Mallory").click()
    take = next(b for row in alert["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "Take over")
    telegram.push_update(token, callback_update(alert, take["callback_data"], user_id=OPERATOR, first_name="Olga"))
    expect(page.locator("#held-in-telegram")).to_contain_text("Olga")  # live, no reload

    telegram.push_update(token, reply_update("Hello, Olga here", alert, chat_id=OPERATOR, first_name="Olga"))
    expect(page.locator("#transcript")).to_contain_text("Hello, Olga here")
    assert _in_chat(telegram, token, CUSTOMER, 2)[-1]["text"] == "Hello, Olga here"
