"""The live inbox with the bot runner in its own process (`python -m chatai bots run`, the app started
with RUN_BOTS_IN_WEB=false): Telegram messages and the bot's replies appear in every open inbox tab of
the owner without reload, and never in another owner's tab; then take over -> reply -> release through the
real runner and the fake Telegram server. How soon they arrive (p50/p95, split into the server's and the
browser's part) is measured by `python -m bench whole_path` (its inbox tabs), not asserted here: a busy
machine makes the browser slow, not the inbox wrong.

Every browser test's app runs without a runner of its own; tests/e2e/conftest.py starts the runner as a
separate process (`bot_runner`).
"""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import PATIENCE_MS, create_assistant, open_page, sign_up
from tests.fakes.telegram_server import make_token

SAMPLES = 8


def _connect_bot(page, telegram) -> str:
    number = 8_000_000 + uuid.uuid4().int % 1_000_000
    token = make_token(number)
    telegram.add_bot(token, f"live{number}_bot")
    open_page(page, "/dashboard/bots")
    page.fill("#bot-token", token)
    page.click("#connect-bot")
    card = page.locator(".bot-card", has_text=f"@live{number}_bot")
    expect(card.locator(".bot-status")).to_have_text("Running")
    return token


def _set_hidden(page, hidden: bool) -> None:
    """What the browser does when the tab is switched away from (or back): the page's visibility changes."""
    page.evaluate("""h => {
      Object.defineProperty(document, 'hidden', {get: () => h, configurable: true});
      Object.defineProperty(document, 'visibilityState', {get: () => h ? 'hidden' : 'visible', configurable: true});
      document.dispatchEvent(new Event('visibilitychange'));
    }""", hidden)


def test_messages_arrive_live_in_every_tab_of_the_owner_only(browser, app_url, telegram, bot_runner):
    owner = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    other = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    owner.set_default_timeout(PATIENCE_MS)
    other.set_default_timeout(PATIENCE_MS)
    try:
        tab1 = owner.new_page()
        sign_up(tab1, f"live-{uuid.uuid4().hex[:8]}@example.com")
        create_assistant(tab1, "Live helper")
        token = _connect_bot(tab1, telegram)
        stranger = other.new_page()
        sign_up(stranger, f"stranger-{uuid.uuid4().hex[:8]}@example.com")
        open_page(stranger, "/dashboard/inbox")
        open_page(tab1, "/dashboard/inbox")
        tab2 = owner.new_page()
        open_page(tab2, "/dashboard/inbox")

        # The first message creates the dialog: it appears in both tabs' lists without a reload.
        telegram.push_text(token, "<b>Hello</b> from Telegram", chat_id=4242, first_name="Mallory")
        for tab in (tab1, tab2):
            expect(tab.locator(".dialog-item", has_text="Mallory")).to_be_visible()
        tab1.locator(".dialog-item", has_text="Mallory").click()
        transcript = tab1.locator("#transcript")
        expect(transcript).to_contain_text("<b>Hello</b> from Telegram")  # shown as typed, not as markup
        expect(transcript.locator("b")).to_have_count(0)
        # The bot's answer arrives too. With an empty knowledge base it does not know, so (the assistant's
        # default handoff setting) the dialog starts waiting for a person: every tab counts it, and a notice
        # points to it in every tab but the one where that conversation is already open.
        expect(transcript.locator(".message[data-role=assistant]")).to_have_count(1)
        expect(tab1.locator("#transcript-status")).to_have_text("Waiting for a person")
        for tab in (tab1, tab2):
            expect(tab.locator("#nav-waiting").first).to_have_text("1")
        expect(tab2.locator("#waiting-notice")).to_contain_text("Mallory")
        expect(tab1.locator("#waiting-notice")).to_have_count(0)
        expect(stranger.locator("#waiting-notice")).to_have_count(0)

        # Each message shows up in the open transcript and in the other tab's list, with no reload.
        tab1.bring_to_front()
        for i in range(SAMPLES):
            text = f"question number {i} {uuid.uuid4().hex[:6]}"
            telegram.push_text(token, text, chat_id=4242, first_name="Mallory")
            tab1.wait_for_function("t => document.getElementById('transcript')?.innerText.includes(t)", arg=text,
                                   polling=20, timeout=PATIENCE_MS)
            expect(tab2.locator(".dialog-item", has_text="Mallory").locator(".dialog-preview")).to_have_text(text)
        expect(tab2.locator(".dialog-item", has_text="Mallory")).to_contain_text("question number")

        # The browser's visibility reaches the server: a hidden tab's pushes wait (what it is sent meanwhile is
        # tests/web/test_live_fanout.py's to assert: here a socket reconnect on a busy machine re-runs the page's
        # on_load, which reads the list afresh), and once shown it gets what it missed.
        preview2 = tab2.locator(".dialog-item", has_text="Mallory").locator(".dialog-preview")
        _set_hidden(tab2, True)
        expect(tab2.locator("#live-tab-hidden").first).to_have_attribute("data-hidden", "yes")  # the server knows
        text = f"while hidden {uuid.uuid4().hex[:6]}"
        telegram.push_text(token, text, chat_id=4242, first_name="Mallory")
        tab1.wait_for_function("t => document.getElementById('transcript')?.innerText.includes(t)", arg=text,
                               polling=20, timeout=PATIENCE_MS)
        _set_hidden(tab2, False)
        expect(preview2).to_have_text(text)
        expect(tab2.locator("#live-tab-hidden").first).to_have_attribute("data-hidden", "no")
        # Another owner's open inbox never shows it.
        expect(stranger.locator(".dialog-item")).to_have_count(0)
        assert "Mallory" not in stranger.content()

        # Take over -> reply -> release, through the separate runner.
        tab1.click("#take-over")
        expect(tab1.locator("#transcript-status")).to_have_text("Person")
        sent_before = len(telegram.sent_messages(token))
        tab1.fill("#reply-text", "A person here: how can I help?")
        tab1.click("#reply-send")
        expect(transcript.locator(".message[data-role=operator]")).to_contain_text("A person here")
        sent = telegram.wait_sent(token, sent_before + 1)
        assert any("A person here" in str(m.get("text")) for m in sent[sent_before:])
        expect(transcript.locator(".delivery-pending")).to_have_count(0)
        # While held, a customer message is shown live and the AI stays silent (it was silent while waiting).
        assert transcript.locator(".message[data-role=assistant]").count() == 1
        replies = transcript.locator(".message[data-role=assistant]").count()
        telegram.push_text(token, "thanks, one more thing", chat_id=4242, first_name="Mallory")
        expect(transcript).to_contain_text("thanks, one more thing")
        time.sleep(1.5)
        assert transcript.locator(".message[data-role=assistant]").count() == replies
        tab1.click("#release")
        expect(tab1.locator("#take-over")).to_be_visible()
        expect(transcript.locator(".system-notice").last).to_be_visible()
        # The sidebar's waiting badge is gone and the list shows the dialog back with the AI.
        expect(tab2.locator(".dialog-item", has_text="Mallory").locator(".dialog-status")).to_have_text("AI")
    finally:
        owner.close()
        other.close()
