"""The website chat widget in a real browser: a host page on another origin (a second 127.0.0.1 port) carries
the snippet.

On the session's built app (no LLM): on a phone-sized screen (390x844) the visitor opens the chat (full
screen), asks, and gets a Q&A answer at once; the owner's open inbox shows the web dialog live; take over ->
the operator's reply appears in the panel with the operator's name -> release, with its notice; a reload
keeps the conversation; the same page opened as `localhost` (a site not on the list) gets no chat at all.

With an LLM (a widget worker beside the session's app, answering through the fake OpenAI-compatible server,
tests/e2e/widget_worker.py): the model's first words are in the panel while the model still holds the rest,
then the whole answer, its markdown rendered safely; "new conversation" empties the panel (a reload before
its first message keeps it empty) and the next message starts the conversation a reload then shows."""

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


BAKERY = "# Bread\n\nOur sourdough is baked every morning at six. The menu lists every bread we sell.\n"
# The model's answer: markdown the panel renders (bold, a link) and markup it must show as text.
MODEL_ANSWER = ("Our sourdough is baked **every morning** at six. See [the menu](https://bakery.example/menu). "
                "<script>window.chataiPwned = 1</script> <img src=x onerror=window.chataiPwned=2> Enjoy!")


@pytest.fixture
def llm_widget(tmp_path):
    """The fake OpenAI-compatible server on 127.0.0.1 and a widget worker answering with it
    (tests/e2e/widget_worker.py: the session's app stays without an LLM for every other browser test)."""
    from tests.e2e.widget_worker import seed_shop, widget_worker
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI().start()
    try:
        assistant_id = seed_shop(site="127.0.0.1", document=BAKERY, llm_base_url=fake.base_url)
        with widget_worker(llm_base_url=fake.base_url, log=tmp_path / "widget-worker.log") as worker:
            yield fake, worker, assistant_id
    finally:
        fake.stop()


def test_an_llm_answer_streams_into_the_panel_before_it_is_complete(browser, host_site, llm_widget):
    from tests.fakes.openai_server import ScriptedReply, structured

    fake, worker, assistant_id = llm_widget
    reply = structured(MODEL_ANSWER)
    words = re.findall(r"\S+\s*", reply)
    # The model sends the answer's first three words ("Our sourdough is"), then holds the rest until released.
    first_words = next(i for i, w in enumerate(words) if w.startswith('"answer":')) + 4
    fake.script(ScriptedReply(reply, hold_after=first_words))
    host_site.snippet = (f'<script async src="{worker.url}/widget/loader.js" '
                         f'data-chatai-assistant="{assistant_id}"></script>')
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    visitor.set_default_timeout(PATIENCE_MS)
    try:
        page = visitor.new_page()
        page.goto(f"http://127.0.0.1:{host_site.server_port}/")
        chat = page.frame_locator("iframe[data-chatai=frame]")
        chat.locator("[data-chatai=launcher]").click()
        chat.locator("[data-chatai=input]").fill("When is the sourdough baked?")
        chat.locator("[data-chatai=send]").click()

        # The first words are in the panel while the model still holds the rest of its answer.
        draft = chat.locator("[data-chatai=message][data-role=assistant][data-streaming=true]")
        expect(draft).to_contain_text("Our sourdough is")
        assert fake.holding.is_set()
        expect(draft).not_to_contain_text("menu")
        fake.release.set()

        # Then the whole answer, its markdown rendered as DOM and the model's markup shown as text.
        answer = chat.locator("[data-chatai=message][data-role=assistant]").last
        expect(answer).to_contain_text("Enjoy!")
        expect(draft).to_have_count(0)
        expect(answer.locator("strong")).to_have_text("every morning")
        link = answer.locator("a")
        expect(link).to_have_text("the menu")
        expect(link).to_have_attribute("href", "https://bakery.example/menu")
        expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        expect(answer).to_contain_text("<script>window.chataiPwned = 1</script>")
        expect(answer).to_contain_text("<img src=x onerror=window.chataiPwned=2>")
        expect(answer.locator("script, img")).to_have_count(0)
        frame = next(f for f in page.frames if "/widget/frame/" in f.url)
        assert frame.evaluate("() => window.chataiPwned === undefined")

        # "New conversation": an empty panel (nothing is stored until its first message), which that message
        # starts; a reload shows the new conversation, not the old one.
        chat.locator("[data-chatai=new]").click()
        expect(chat.locator("[data-chatai=message][data-role=user]")).to_have_count(0)
        page.reload()  # before its first message: still the new, empty conversation (not the previous one)
        chat = page.frame_locator("iframe[data-chatai=frame]")
        chat.locator("[data-chatai=launcher]").click()
        expect(chat.locator("[data-chatai=input]")).to_be_visible()
        expect(chat.locator("[data-chatai=message][data-role=user]")).to_have_count(0)
        chat.locator("[data-chatai=input]").fill("Is the sourdough baked every morning?")
        chat.locator("[data-chatai=send]").click()
        expect(chat.locator("[data-chatai=message][data-role=assistant]").last).to_contain_text(
            "This is the fake model's answer.")
        page.reload()
        chat = page.frame_locator("iframe[data-chatai=frame]")
        chat.locator("[data-chatai=launcher]").click()
        expect(chat.locator("[data-chatai=message][data-role=assistant]").last).to_contain_text(
            "This is the fake model's answer.")
        expect(chat.locator("[data-chatai=message][data-role=user]")).to_have_text(
            ["Is the sourdough baked every morning?"])
    finally:
        visitor.close()
