"""The inbox tools in a browser (issue 23), on the session's one built app: an internal note shows marked
in the transcript and never reaches Telegram; a saved reply is chosen by typing "/" and the keyboard,
edited in the reply box, and what was sent is the edited text; a label is made, put on the dialog and
filters the list. The rest (the card's content, refusals across businesses, typing) is tested without a
browser in tests/inbox_tools/."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import PATIENCE_MS, create_assistant, open_page, sign_up
from tests.fakes.telegram_server import make_token


def test_note_marked_and_slash_reply_inserted_edited_and_sent(browser, app_url, telegram, bot_runner):
    context = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PATIENCE_MS)
    try:
        page = context.new_page()
        sign_up(page, f"tools-{uuid.uuid4().hex[:8]}@example.com")
        create_assistant(page, "Tools helper")
        number = 8_100_000 + uuid.uuid4().int % 100_000
        token = make_token(number)
        telegram.add_bot(token, f"tools{number}_bot")
        open_page(page, "/dashboard/bots")
        page.fill("#bot-token", token)
        page.click("#connect-bot")
        expect(page.locator(".bot-card", has_text=f"@tools{number}_bot").locator(".bot-status")).to_have_text(
            "Running")

        open_page(page, "/dashboard/inbox")
        # A saved reply, made in the inbox's manager.
        page.click("#canned-manage")
        page.fill("#canned-shortcut", "refund")
        page.fill("#canned-body", "Refunds take 3 days.")
        page.click("#canned-save")
        expect(page.locator(".canned-row")).to_contain_text("/refund")
        page.keyboard.press("Escape")

        telegram.push_text(token, "Where is my refund?", chat_id=5151, first_name="Ivan")
        page.locator(".dialog-item", has_text="Ivan").click()
        transcript = page.locator("#transcript")
        expect(transcript).to_contain_text("Where is my refund?")
        expect(page.locator("#customer-card")).to_contain_text("Ivan")
        page.click("#take-over")
        expect(page.locator("#transcript-status")).to_have_text("Person")

        page.fill("#note-text", "Refunded once already <b>check</b>")
        page.click("#note-add")
        note = transcript.locator(".message-note")
        expect(note).to_contain_text("Internal note")
        expect(note).to_contain_text("Refunded once already <b>check</b>")  # as typed, never markup
        expect(note.locator("b")).to_have_count(0)

        # A label, made in the manager, put on the dialog, shown in the list, and filtering it.
        page.click("#labels-manage")
        page.fill("#label-name", "VIP")
        page.click("#label-create")
        expect(page.locator(".label-row")).to_have_count(1)
        page.keyboard.press("Escape")
        page.click("#label-add")
        page.get_by_role("menuitem", name="VIP").click()
        expect(page.locator("#dialog-labels .open-dialog-label")).to_have_text("VIP")
        expect(page.locator(".dialog-item", has_text="Ivan").locator(".dialog-label")).to_have_text("VIP")
        page.click("#filter-label")
        page.get_by_role("option", name="VIP").click()
        expect(page.locator(".dialog-item")).to_have_count(1)

        box = page.locator("#reply-text")
        box.click()
        box.press_sequentially("Hello! /ref")
        expect(page.locator("#canned-picker .canned-choice")).to_have_count(1)
        box.press("Enter")
        expect(box).to_have_value("Hello! Refunds take 3 days.")
        box.press("End")
        box.press_sequentially(" Sorry for the wait.")
        sent_before = len(telegram.sent_messages(token))
        page.click("#reply-send")
        sent = telegram.wait_sent(token, sent_before + 1)
        assert sent[-1]["text"] == "Hello! Refunds take 3 days. Sorry for the wait."
        expect(transcript.locator(".message[data-role=operator]")).to_contain_text("Sorry for the wait.")
        expect(box).to_have_value("")
        assert not any("Refunded once" in str(m.get("text")) for m in telegram.sent_messages(token))
    finally:
        context.close()
