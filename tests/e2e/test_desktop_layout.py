"""A desktop (1280x800) in a browser whose clock is Yekaterinburg's: what only a browser shows of the walk's
findings. The account takes the browser's time zone at sign-up; the sidebar stays in view at the bottom of a
long page; an open conversation's reply box is on screen without scrolling, after several messages; a top-up
preset asks before leaving for the payment page. Runs in the same browser session (and built app) as the
phone test."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.e2e.test_phone import _connect_bot
from tests.waits import PATIENCE_MS

WIDTH, HEIGHT = 1280, 800


def _in_view(page, selector: str) -> None:
    """Wholly inside the viewport as the page stands (no scrolling into view first)."""
    box = page.locator(f"{selector} >> visible=true").first.bounding_box()
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, f"{selector} is out of view: {box}"


def test_desktop_layout_time_zone_and_preset(browser, app_url, telegram):
    context = browser.new_context(base_url=app_url, viewport={"width": WIDTH, "height": HEIGHT},
                                  timezone_id="Asia/Yekaterinburg")
    context.set_default_timeout(PATIENCE_MS)
    page = context.new_page()
    try:
        sign_up(page, f"desk-{uuid.uuid4().hex[:8]}@example.com")
        # The browser's zone became the account's (Intl in the sign-up form).
        open_page(page, "/dashboard/settings")
        expect(page.locator("#time-zone-now")).to_contain_text("Asia/Yekaterinburg (UTC+05:00)")

        # A long page scrolled to its end keeps the sidebar (navigation, sign-out) in view.
        assert page.evaluate("document.documentElement.scrollHeight") > HEIGHT, "the settings page is not long"
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_function("window.scrollY > 0")
        _in_view(page, "#sign-out")
        _in_view(page, "#nav-nav_overview")

        # A preset names its amount and waits; cancelled, nothing happened.
        open_page(page, "/dashboard/billing")
        page.locator(".topup-preset").first.click()
        expect(page.locator("#topup-confirm-text")).to_contain_text("₽500.00")
        assert "/dashboard/billing" in page.url
        page.click("#topup-confirm-cancel")
        expect(page.locator("#topup-confirm-text")).to_have_count(0)

        # An open conversation with several messages: take over, and the reply box is on screen.
        create_assistant(page, "Desk helper")
        bot = _connect_bot(page, telegram)
        for n in range(6):
            telegram.push_text(bot["token"], f"Question number {n} about opening hours?", chat_id=6161,
                               first_name="Dmitry")
        open_page(page, "/dashboard/inbox")
        page.locator(".dialog-item", has_text="Dmitry").click()
        expect(page.locator("#transcript")).to_contain_text("Question number 5")
        page.click("#take-over")
        expect(page.locator("#reply-text")).to_be_visible()
        assert page.evaluate("window.scrollY") == 0
        page.screenshot(path="/tmp/desktop-inbox.png")  # for a person to look at
        _in_view(page, "#reply-text")
        _in_view(page, "#reply-send")
        _in_view(page, "#release")
        # Times in the inbox are on the owner's clock: the list shows today's date in Yekaterinburg.
        today = page.evaluate("new Date().toLocaleDateString('sv-SE', {timeZone: 'Asia/Yekaterinburg'})")
        expect(page.locator(".dialog-item", has_text="Dmitry").locator(".dialog-time")).to_contain_text(today)
    finally:
        context.close()
