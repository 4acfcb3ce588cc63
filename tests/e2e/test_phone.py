"""Every dashboard page on a phone (390x844), in English and Russian: each action a person can take is on
screen horizontally (not clipped, not scrolled out of a table), and no page scrolls sideways. Screenshots of
every page go to /tmp/phone-shots/ for a person to look at."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up

WIDTH, HEIGHT = 390, 844
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
    "documents": [".reindex-document", ".delete-document"],
    "qa": ["#qa-question", "#qa-submit", ".qa-row [title]"],
    "test": ["#search-query", "#search-submit"],
    "playground": ["#playground-input", "#playground-send", "#playground-clear"],
}


@pytest.fixture
def phone(browser, app_url):
    context = browser.new_context(base_url=app_url, viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.set_default_timeout(20_000)
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


def _walk_every_page(page, locale: str) -> None:
    for name, path in PAGES.items():
        open_page(page, path)
        page.locator("#menu").wait_for()  # the signed-in shell, past its loading spinner
        if name == "knowledge":
            page.locator(".document-row[data-status=ready]").wait_for(timeout=60_000)
            for tab, required in KNOWLEDGE_TABS.items():
                page.click(f"#tab-{tab}")
                _shot(page, locale, f"knowledge-{tab}")
                _check_fits(page, f"{locale} knowledge/{tab}", PRIMARY["knowledge"] + required)
            continue
        _shot(page, locale, name)
        _check_fits(page, f"{locale} {name}", PRIMARY.get(name, []))
        if name == "assistants":
            # The edit dialog is long: its Save stays on screen without scrolling, and nothing in it is clipped.
            page.get_by_role("button", name="Edit" if locale == "en" else "Изменить").first.click()
            expect(page.locator("#save-assistant")).to_be_in_viewport()
            _shot(page, locale, "assistant-dialog")
            _check_fits(page, f"{locale} assistant dialog", ["#save-assistant", "#delete-assistant",
                                                             "#assistant-advanced"])
            page.keyboard.press("Escape")
            expect(page.locator("#save-assistant")).to_have_count(0)
    # The navigation drawer itself.
    page.click("#menu")
    _wait_for_drawer(page)
    _shot(page, locale, "menu")
    _check_fits(page, f"{locale} menu", ["#sign-out"])
    page.keyboard.press("Escape")


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


def test_every_page_usable_on_a_phone_in_english_and_russian(phone, tmp_path):
    page = phone
    sign_up(page, f"phone-{uuid.uuid4().hex[:8]}@example.com")
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

    _walk_every_page(page, "en")
    _switch_to_russian(page)
    _walk_every_page(page, "ru")
