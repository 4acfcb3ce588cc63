"""Every dashboard page on a phone (390x844), in English and Russian: each action a person can take is on
screen horizontally (not clipped, not scrolled out of a table), and no page scrolls sideways. That includes
a connected bot's card (its t.me link, details, pause/resume, new token, event log, disconnect with its
confirmation) and an open conversation in the inbox (take over, reply delivered to Telegram, release), with
the bot run by the separate bot runner against the fake Telegram server. Screenshots of every page go to
/tmp/phone-shots/ for a person to look at."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from chatai.web.i18n import text
from chatai.web.pages.assistants import STYLE_PRESETS
from chatai.web.pages.billing import KINDS as LEDGER_KINDS
from chatai.web.texts.bot_events import bot_event_text
from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.fakes.telegram_server import make_token
from tests.waits import PATIENCE_MS

WIDTH, HEIGHT = 390, 844
MONEY = {"ru": re.compile(r"^−?\d[\d\s]*,\d\d\s₽$"), "en": re.compile(r"^−?₽[\d,]+\.\d\d$")}
SHOTS = Path("/tmp/phone-shots")
# Everything a person can act on; those inside a closed dialog, drawer or tab are not visible and skipped.
ACTIONS = "button, input:not([type=hidden]), textarea, select, a[href], [role=tab], [role=combobox]"

PAGES = {
    "overview": "/dashboard",
    "assistants": "/dashboard/assistants",
    "knowledge": "/dashboard/knowledge",
    "bots": "/dashboard/bots",
    "inbox": "/dashboard/inbox",
    "billing": "/dashboard/billing",
    "settings": "/dashboard/settings",
}
# The primary action of each page, which must be there (not only "whatever is visible fits").
PRIMARY = {
    "assistants": ["#new-assistant"],
    "knowledge": ["#tab-documents", "#tab-qa", "#tab-test", "#tab-playground", "#assistant-picker"],
    "bots": ["#bot-token", "#connect-bot"],
    "inbox": ["#inbox-search"],
    "billing": ["#topup-amount", "#topup-pay", "#promo-code", "#promo-apply"],
    "settings": ["#sign-out-everywhere"],
}
KNOWLEDGE_TABS = {
    "documents": [".reindex-document", ".delete-document", ".document-status"],
    "qa": ["#qa-question", "#qa-submit", ".qa-row [title]"],
    "test": ["#search-query", "#search-submit"],
    "playground": ["#playground-input", "#playground-send", "#playground-clear"],
}


@pytest.fixture
def phone(browser, app_url):
    context = browser.new_context(base_url=app_url, viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.set_default_timeout(PATIENCE_MS)
    page = context.new_page()
    yield page
    context.close()


def _offscreen_actions(page) -> list[str]:
    """Visible actions whose box is not wholly inside the viewport's width."""
    return page.evaluate(
        """([selector, width]) => [...document.querySelectorAll(selector)].filter((el) => {
               const r = el.getBoundingClientRect();
               if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') return false;
               return r.left < -0.5 || r.right > width + 0.5;
           }).map((el) => `${el.tagName.toLowerCase()}#${el.id} at ${Math.round(el.getBoundingClientRect().left)}: ` +
                          `${(el.innerText || el.getAttribute('aria-label') || el.name || '').slice(0, 40)}`)""",
        [ACTIONS, WIDTH],
    )


def _sticking_out(page, boxes: str) -> list[str]:
    """Descendants of the elements matching `boxes` that reach past their box's right edge."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].flatMap((box) => {
               const right = box.getBoundingClientRect().right;
               return [...box.querySelectorAll('*')].filter((el) => el.getBoundingClientRect().right > right + 0.5)
                   .map((el) => `${(el.innerText || el.tagName).slice(0, 40)} past ${Math.round(right)}`);
           })""",
        boxes,
    )


def _check_fits(page, name: str, required: list[str]) -> None:
    for selector in required:
        element = page.locator(f"{selector} >> visible=true").first  # the desktop sidebar is there, hidden
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"{name}: {selector} {box}"
    assert _offscreen_actions(page) == [], name
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= WIDTH, f"{name}: the page scrolls sideways ({scroll_width}px)"


def _shot(page, locale: str, name: str) -> None:
    # Dialogs and drawers zoom and slide in: measure and photograph them where they come to rest.
    page.wait_for_function("""() => document.getAnimations().every(
        (a) => a.playState !== 'running' || a.effect.getTiming().iterations === Infinity)""")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{locale}-{name}.png"))


def _walk_every_page(page, locale: str, bot: dict) -> None:
    for name, path in PAGES.items():
        open_page(page, path)
        page.locator("#menu").wait_for()  # the signed-in shell, past its loading spinner
        if name == "knowledge":
            page.locator(".document-row[data-status=ready]").wait_for()
            for tab, required in KNOWLEDGE_TABS.items():
                page.click(f"#tab-{tab}")
                _shot(page, locale, f"knowledge-{tab}")
                _check_fits(page, f"{locale} knowledge/{tab}", PRIMARY["knowledge"] + required)
                if tab == "playground":  # the input and the buttons under it do not touch
                    field, send = (page.locator(f"{s} >> visible=true").bounding_box()
                                   for s in ("#playground-input", "#playground-send"))
                    assert send["y"] - (field["y"] + field["height"]) >= 6, f"{locale}: {field} touches {send}"
                if tab == "documents":  # nothing of a row (its status was cut at "Обрабо") is scrolled away
                    overflow = page.locator("#documents-table").evaluate("(el) => el.scrollWidth - el.clientWidth")
                    assert overflow <= 0, f"{locale}: the documents table scrolls sideways by {overflow}px"
            continue
        _shot(page, locale, name)
        _check_fits(page, f"{locale} {name}", PRIMARY.get(name, []))
        if name == "billing":  # the ledger speaks words, not its codes ("welcome", "commit", "30")
            kinds = {text(locale, f"billing_kind_{k}") for k in LEDGER_KINDS}
            expect(page.locator(".ledger-kind").first).to_be_visible()
            assert set(page.locator(".ledger-kind").all_inner_texts()) <= kinds
            expect(page.locator("#ledger-period")).to_have_text(text(locale, "billing_period_days", n=30))
            overflow = page.locator("#ledger-table").evaluate("(el) => el.scrollWidth - el.clientWidth")
            assert overflow <= 0, f"{locale}: the ledger scrolls sideways by {overflow}px"
            expect(page.locator(".ledger-reason-narrow >> visible=true").first).to_be_visible()  # details kept
            # The amount is a column on screen (it scrolled off), written as the owner writes money.
            amount = page.locator(".ledger-amount >> visible=true").first
            expect(amount).to_have_text(MONEY[locale])
            box = amount.bounding_box()
            assert box is not None and box["x"] + box["width"] <= WIDTH, f"{locale}: the amount is off: {box}"
        if name == "settings":  # no rating of an empty field; the hint is not squeezed beside its button
            expect(page.locator("#password-strength")).to_have_count(0)
            hint = page.locator("#sign-out-everywhere-hint").bounding_box()
            assert hint is not None and hint["width"] > 250, f"{locale}: the sign-out hint is squeezed: {hint}"
        if name == "bots":
            _check_bot_card(page, locale, bot)
        if name == "inbox":
            _check_conversation(page, locale, bot)
        if name == "assistants":
            # The edit dialog is long: its Save stays on screen without scrolling, and nothing in it is clipped.
            page.get_by_role("button", name="Edit" if locale == "en" else "Изменить").first.click()
            expect(page.locator("#save-assistant")).to_be_in_viewport()
            _shot(page, locale, "assistant-dialog")
            _check_fits(page, f"{locale} assistant dialog", ["#save-assistant", "#delete-assistant",
                                                             "#assistant-advanced", "#assistant-style"])
            # Every answer style is readable whole (the chosen one was cut off in a select).
            assert _sticking_out(page, "#assistant-style") == [], locale
            # Under "Advanced", typing an own value turns the answer style to "Custom" (a preset would
            # otherwise overwrite it on saving).
            page.click("#assistant-advanced")
            saved, chosen = ("balanced", "creative") if locale == "en" else ("creative", "balanced")
            expect(page.locator(f"#assistant-style-{saved}")).to_have_attribute("aria-checked", "true")
            page.fill("#assistant-temperature", "0.9")
            expect(page.locator("#assistant-style-custom")).to_have_attribute("aria-checked", "true")
            _check_fits(page, f"{locale} assistant advanced", ["#assistant-temperature", "#assistant-model"])
            # Choosing a style shows its values under "Advanced"; saved, it is the style the dialog reopens with.
            page.click(f"#assistant-style-{chosen}")
            expect(page.locator("#assistant-temperature")).to_have_value(str(STYLE_PRESETS[chosen]["temperature"]))
            page.click("#save-assistant")
            expect(page.locator("#save-assistant")).to_have_count(0)
            page.get_by_role("button", name=text(locale, "edit")).first.click()
            expect(page.locator(f"#assistant-style-{chosen}")).to_have_attribute("aria-checked", "true")
            page.keyboard.press("Escape")
            expect(page.locator("#save-assistant")).to_have_count(0)
            # The new-assistant dialog, with its answer styles whole.
            page.click("#new-assistant")
            expect(page.locator("#create-assistant")).to_be_visible()
            _shot(page, locale, "assistant-new")
            _check_fits(page, f"{locale} new assistant", ["#assistant-name", "#assistant-style", "#create-assistant"])
            assert _sticking_out(page, "#assistant-style") == [], locale
            page.keyboard.press("Escape")
            expect(page.locator("#create-assistant")).to_have_count(0)
    # The navigation drawer itself.
    page.click("#menu")
    _wait_for_drawer(page)
    _shot(page, locale, "menu")
    _check_fits(page, f"{locale} menu", ["#sign-out"])
    # The signed-in address is whole: the bottoms of its letters were cut off.
    email = page.locator(".user-email >> visible=true")
    expect(email).to_contain_text("@example.com")
    assert email.evaluate("(el) => el.scrollHeight <= el.clientHeight"), "the email is clipped"
    page.keyboard.press("Escape")


def _check_bot_card(page, locale: str, bot: dict) -> None:
    """Every action of a connected bot's card, on the phone."""
    card = page.locator(".bot-card", has_text=f"@{bot['username']}")
    status = card.locator(".bot-status")
    expect(status).to_have_text(text(locale, "bot_running"))
    expect(card.locator(".bot-link")).to_have_attribute("href", f"https://t.me/{bot['username']}")
    expect(card.locator(".bot-mode")).to_be_hidden()  # "polling" is a detail behind "Details"
    card.locator(".bot-details summary").click()
    expect(card.locator(".bot-mode")).to_contain_text(text(locale, "first_hour_bot_mode_polling"))
    _shot(page, locale, "bots-card")
    _check_fits(page, f"{locale} bot card", [".bot-link", ".bot-details summary", ".pause-bot", ".replace-token",
                                             ".bot-events", ".disconnect-bot"])
    card.locator(".pause-bot").click()
    expect(status).to_have_text(text(locale, "bot_paused"))
    _check_fits(page, f"{locale} paused bot card", [".resume-bot"])
    card.locator(".resume-bot").click()
    expect(status).to_have_text(text(locale, "bot_running"))

    card.locator(".replace-token").click()
    _shot(page, locale, "bots-new-token")
    _check_fits(page, f"{locale} new token form", [".bot-card input[name=token]", ".bot-card button[type=submit]"])
    card.get_by_role("button", name=text(locale, "cancel")).click()
    expect(card.locator(".replace-token")).to_be_visible()

    card.locator(".bot-events").click()
    events = page.locator("#bot-events")
    expect(events).to_contain_text(text(locale, "bot_events_kind_paused"))  # what was just done is logged
    expect(events).to_contain_text(bot_event_text(locale, "Paused by the owner."))  # in the owner's language
    _shot(page, locale, "bots-event-log")
    _check_fits(page, f"{locale} bot event log", ["#bot-events button"])
    page.keyboard.press("Escape")
    expect(events).to_have_count(0)

    card.locator(".disconnect-bot").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text(f"@{bot['username']}")
    expect(confirm).to_contain_text(text(locale, "first_hour_loss_bot"))
    _shot(page, locale, "bots-disconnect")
    _check_fits(page, f"{locale} disconnect confirmation", [".confirm-action"])
    confirm.get_by_role("button", name=text(locale, "cancel")).click()
    expect(confirm).to_have_count(0)
    expect(status).to_have_text(text(locale, "bot_running"))


def _check_conversation(page, locale: str, bot: dict) -> None:
    """Open the customer's conversation, take it over, reply (delivered to Telegram), release."""
    telegram, token = bot["telegram"], bot["token"]
    item = page.locator(".dialog-item", has_text="Mallory")
    # One side at a time: no empty "pick a conversation" card under the list; the list's time on one line.
    expect(page.locator("#transcript-side")).to_be_hidden()
    assert item.locator(".dialog-time").evaluate(
        "(el) => { const r = document.createRange(); r.selectNodeContents(el); return r.getClientRects().length; }"
    ) == 1, "the conversation's time wraps"
    item.click()
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("When do you open?")
    # The answer's sources carry an icon of the UI's set (an emoji showed as an empty box).
    expect(transcript.locator(".message-sources svg").first).to_be_visible()
    expect(transcript).not_to_contain_text("📎")
    expect(page.locator("#take-over")).to_be_in_viewport()
    expect(page.locator("#inbox-search")).to_be_hidden()
    _shot(page, locale, "inbox-conversation")
    _check_fits(page, f"{locale} conversation", ["#close-dialog", "#take-over"])

    page.click("#take-over")
    expect(page.locator("#release")).to_be_visible()
    sent_before = len(telegram.sent_messages(token))
    reply = f"A person here ({locale})"
    page.fill("#reply-text", reply)
    _shot(page, locale, "inbox-reply")
    _check_fits(page, f"{locale} reply", ["#reply-text", "#reply-send", "#release"])
    page.click("#reply-send")
    expect(transcript.locator(".message[data-role=operator]").last).to_contain_text(reply)
    sent = telegram.wait_sent(token, sent_before + 1)
    assert any(reply in str(m.get("text")) for m in sent[sent_before:]), sent[sent_before:]
    expect(transcript.locator(".delivery-pending")).to_have_count(0)
    # The newest message (the reply just sent) is in view, not below the transcript's fold.
    gap = transcript.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight")
    assert gap < 60, f"{locale}: the transcript is {gap}px above its newest message"
    # Nothing in a message sticks out of its bubble (an operator's email pushed the time out of it).
    assert _sticking_out(page, "#transcript .message > div") == [], locale
    page.click("#release")
    expect(page.locator("#take-over")).to_be_visible()
    page.click("#close-dialog")
    expect(item).to_be_in_viewport()


def _connect_bot(page, telegram) -> dict:
    number = 9_000_000 + uuid.uuid4().int % 1_000_000
    token, username = make_token(number), f"phone{number}_bot"
    telegram.add_bot(token, username)
    open_page(page, "/dashboard/bots")
    page.fill("#bot-token", token)
    page.click("#connect-bot")
    expect(page.locator(".bot-card", has_text=f"@{username}").locator(".bot-status")).to_have_text(
        "Running")
    return {"telegram": telegram, "token": token, "username": username}


def _wait_for_drawer(page) -> None:
    """The drawer slides in from the left: wait until its links have stopped moving."""
    page.wait_for_function("""() => {
        const link = [...document.querySelectorAll('#nav-nav_overview')].find((el) => el.offsetWidth > 0);
        const left = link ? link.getBoundingClientRect().left : -1;
        const settled = left >= 0 && left === window.__drawerLeft;
        window.__drawerLeft = left;
        return settled;
    }""", polling=100)


def _switch_to_russian(page) -> None:
    page.click("#menu")
    _wait_for_drawer(page)
    page.get_by_role("combobox", name="Interface language").click()
    page.get_by_role("option", name="Русский").click()
    expect(page.locator("#sign-out >> visible=true")).to_contain_text("Выйти")
    page.keyboard.press("Escape")


def test_every_page_usable_on_a_phone_in_english_and_russian(phone, tmp_path, telegram):
    page = phone
    sign_up(page, f"phone-{uuid.uuid4().hex[:8]}@example.com")
    # A new owner's empty pages say what to do next and link to where it is done.
    open_page(page, "/dashboard/knowledge")
    expect(page.locator("#knowledge-go-create >> visible=true")).to_have_attribute("href", "/dashboard/assistants")
    open_page(page, "/dashboard/inbox")
    expect(page.locator("#inbox-empty")).to_contain_text(text("en", "inbox_none_yet"))
    expect(page.locator("#inbox-connect-bot")).to_have_attribute("href", "/dashboard/bots")
    _shot(page, "en", "inbox-none-yet")
    create_assistant(page, "Phone helper")
    # A document and a Q&A pair, so their row actions are on screen to be checked.
    open_page(page, "/dashboard/knowledge")
    doc = tmp_path / "a-long-document-name-for-a-narrow-screen.md"
    doc.write_text("# Hours\n\nWe open at 7 am and close at 6 pm.\n")
    page.locator("#kb_upload input[type=file]").set_input_files(str(doc))
    page.click("#tab-qa")
    page.fill("#qa-question", "Do you deliver?")
    page.fill("#qa-answer", "Yes, within the city.")
    page.click("#qa-submit")
    page.locator(".qa-row").wait_for()
    # A connected bot and a customer's conversation with it (the bot runner answers from the document).
    bot = _connect_bot(page, telegram)
    telegram.push_text(bot["token"], "When do you open?", chat_id=5151, first_name="Mallory")
    telegram.wait_sent(bot["token"], 1)

    _walk_every_page(page, "en", bot)
    _switch_to_russian(page)
    _walk_every_page(page, "ru", bot)

    # Disconnecting, confirmed: the card goes.
    open_page(page, "/dashboard/bots")
    page.locator(".bot-card .disconnect-bot").click()
    page.get_by_role("alertdialog").locator(".confirm-action").click()
    expect(page.locator(".bot-card")).to_have_count(0)
