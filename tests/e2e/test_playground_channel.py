"""The playground as a channel of the one conversation pipeline, in the browser: a request for a person puts
the conversation in "waiting" (the notice in the chat, the hint under it), the conversation is still there
after a reload, and the inbox shows it with its channel (icon + name) and finds it by the channel filter."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from chatai.services import handoff
from tests.e2e.conftest import create_assistant, open_page, sign_up


def test_playground_conversation_is_kept_and_shown_by_channel_in_the_inbox(page):
    sign_up(page, f"channel-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Channel shop")

    open_page(page, "/dashboard/knowledge")
    page.click("#tab-playground")
    page.fill("#playground-input", "I want to talk to a person")
    page.keyboard.press("Enter")
    log = page.locator("#playground-log")
    expect(log).to_contain_text(handoff.end_user_text("waiting", "en"))
    expect(page.locator("#playground-waiting")).to_be_visible()

    open_page(page, "/dashboard/knowledge")  # a reload: the stored conversation comes back
    page.click("#tab-playground")
    expect(page.locator("#playground-log")).to_contain_text("I want to talk to a person")
    expect(page.locator("#playground-log")).to_contain_text(handoff.end_user_text("waiting", "en"))

    open_page(page, "/dashboard/inbox")
    item = page.locator(".dialog-item")
    expect(item).to_have_count(1)
    expect(item.locator(".channel-playground")).to_have_text("Playground")
    page.click("#filter-channel")
    page.get_by_role("option", name="Website").click()
    expect(page.locator(".dialog-item")).to_have_count(0)
    page.click("#filter-channel")
    page.get_by_role("option", name="Playground").click()
    expect(page.locator(".dialog-item")).to_have_count(1)
