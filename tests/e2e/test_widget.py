"""The website chat widget in a real browser, on the session's built app: a host page on another origin
(a second 127.0.0.1 port) carries the snippet; on a phone-sized screen (390x844) the visitor opens the chat
(full screen), asks, and gets the answer (a Q&A pair: the session's app runs without an LLM, so the
streaming of model text is tests/widget/test_answers.py's); the owner's open inbox shows the web dialog
live; take over -> the operator's reply appears in the panel with the operator's name -> release, with its
notice; a reload keeps the conversation; the same page opened as `localhost` (a site not on the list) gets
no chat at all."""

from __future__ import annotations

import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.waits import PATIENCE_MS


@pytest.fixture
def host_site():
    """A plain page with the snippet on its own port (another origin than the app). Set `.snippet` first."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = (f"<!doctype html><html><head><title>Bakery</title>"
                    '<meta name="viewport" content="width=device-width, initial-scale=1">'
                    f"<style>body{{font:16px serif}}"
                    f"button{{display:none}}</style></head><body><h1>Our bakery</h1>{server.snippet}</body>"
                    "</html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.snippet = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_visitor_asks_owner_takes_over_replies_and_releases_live(browser, app_url, host_site):
    owner = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    visitor = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    for context in (owner, visitor):
        context.set_default_timeout(PATIENCE_MS)
    try:
        tab = owner.new_page()
        sign_up(tab, f"widget-{uuid.uuid4().hex[:8]}@example.com")
        create_assistant(tab, "Bakery helper")
        open_page(tab, "/dashboard/knowledge")
        tab.click("#tab-qa")
        tab.fill("#qa-question", "Do you sell gluten-free bread?")
        tab.fill("#qa-answer", "Yes, **every Friday**.")
        tab.click("#qa-submit")
        expect(tab.locator(".qa-row", has_text="gluten-free")).to_be_visible()

        open_page(tab, "/dashboard/website")
        expect(tab.locator("#widget-snippet")).to_contain_text("data-chatai-assistant=")
        tab.click("#widget-enabled")
        tab.fill("#widget-sites", "127.0.0.1")
        tab.fill("#widget-operator_name", "Anna")
        tab.click("#widget-save")
        expect(tab.locator("#widget-saved")).to_be_visible()
        snippet = tab.locator("#widget-snippet").inner_text().strip()
        assert re.fullmatch(r'<script async src="http://127\.0\.0\.1:\d+/widget/loader\.js" '
                            r'data-chatai-assistant="[0-9a-f-]{36}"></script>', snippet), snippet
        host_site.snippet = snippet
        open_page(tab, "/dashboard/inbox")

        page = visitor.new_page()
        page.goto(f"http://127.0.0.1:{host_site.server_port}/")
        expect(page.locator("script[data-chatai-state]")).to_have_attribute("data-chatai-state", "shown")
        chat = page.frame_locator("iframe[data-chatai=frame]")
        chat.locator("[data-chatai=launcher]").click()
        frame_box = page.locator("iframe[data-chatai=frame]").bounding_box()
        assert (round(frame_box["width"]), round(frame_box["height"])) == (390, 844)  # under 480 px: full screen
        chat.locator("[data-chatai=input]").fill("Do you sell gluten-free bread?")
        chat.locator("[data-chatai=send]").click()
        answer = chat.locator("[data-chatai=message][data-role=assistant]").last
        expect(answer).to_contain_text("Yes, every Friday.")
        expect(answer.locator("strong")).to_have_text("every Friday")  # the safe markdown subset
        expect(chat.locator("[data-chatai=message][data-role=user]")).to_have_count(1)

        # The owner's inbox shows the web dialog without a reload; take over, reply, release.
        item = tab.locator(".dialog-item", has_text="127.0.0.1")
        expect(item).to_be_visible()
        item.click()
        expect(tab.locator("#transcript")).to_contain_text("gluten-free")
        tab.click("#take-over")
        expect(chat.locator("[data-chatai=message][data-role=system]").last).to_have_text("Anna joined the chat.")
        tab.fill("#reply-text", "Hello, Anna here: <b>fresh</b> every Friday morning.")
        tab.click("#reply-send")
        operator = chat.locator("[data-chatai=message][data-role=operator]")
        expect(operator).to_contain_text("Hello, Anna here: <b>fresh</b> every Friday morning.")  # text, not HTML
        expect(operator).to_contain_text("Anna")
        expect(operator.locator("b")).to_have_count(0)
        tab.click("#release")
        expect(chat.locator("[data-chatai=message][data-role=system]").last).to_have_text(
            "You're back with the AI assistant: I'll answer your questions from here.")

        # A reload keeps the conversation (visitor token in the frame's own storage).
        page.reload()
        chat = page.frame_locator("iframe[data-chatai=frame]")
        chat.locator("[data-chatai=launcher]").click()
        expect(chat.locator("[data-chatai=message][data-role=operator]")).to_contain_text("Anna here")
        expect(chat.locator("[data-chatai=message][data-role=user]")).to_have_count(1)
        page.keyboard.press("Escape")
        expect(chat.locator("[data-chatai=launcher]")).to_be_visible()

        # The same page on a site not on the list: the loader is refused and inserts nothing.
        stranger = visitor.new_page()
        with stranger.expect_response(re.compile(r"/widget/config/")) as refused:
            stranger.goto(f"http://localhost:{host_site.server_port}/")
        assert refused.value.status == 403
        expect(stranger.locator("script[data-chatai-state]")).to_have_attribute("data-chatai-state", "refused")
        expect(stranger.locator("iframe")).to_have_count(0)
    finally:
        owner.close()
        visitor.close()
