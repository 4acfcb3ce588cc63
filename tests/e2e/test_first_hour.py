"""The first hour of a business owner in a browser (issue 13): what only a browser shows."""

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.waits import PATIENCE_MS

DOC = """# Opening hours

Our flower shop on Elm Street opens at 8 am and closes at 7 pm every day.

# Delivery

We deliver bouquets within the city for a flat fee of 5 euros.
"""


def test_knowledge_base_first_steps(page, tmp_path):
    """An oversized file is named before any upload; deleting asks first, naming the file; the playground
    shows its sources with an icon (no emoji) and keeps the newest message in view."""
    sign_up(page, f"first-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Flower helper")
    open_page(page, "/dashboard/knowledge")

    big = tmp_path / "price-list.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (11 * 1048576))
    # The refused drop still sends an (empty) upload request, and Reflex's frontend silently ignores a drop
    # made while an upload of the same zone is in flight: on a busy machine the next drop was lost. Wait for
    # that request to finish, as a person's second drop does.
    with page.expect_request_finished(lambda request: "/_upload" in request.url):
        page.locator("#kb_upload input[type=file]").set_input_files([str(big)])
    expect(page.locator(".upload-error")).to_contain_text("price-list.pdf is 11.0\u00a0MB, over the 10 MB limit")
    expect(page.locator(".document-row")).to_have_count(0)

    good, spare = tmp_path / "flowers.md", tmp_path / "spare.md"
    good.write_text(DOC)
    spare.write_text("# Spare\n\nA spare document about vases and ribbons for the shop window.\n")
    page.locator("#kb_upload input[type=file]").set_input_files([str(good), str(spare)])
    expect(page.locator(".document-row", has_text="flowers.md")).to_have_attribute("data-status", "ready")
    spare_row = page.locator(".document-row", has_text="spare.md")
    spare_row.locator(".delete-document").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("spare.md")
    expect(dialog).to_contain_text("no longer answer")
    dialog.get_by_role("button", name="Cancel").click()
    expect(spare_row).to_have_count(1)  # nothing happens without confirming
    spare_row.locator(".delete-document").click()
    page.get_by_role("alertdialog").locator(".confirm-action").click()
    expect(spare_row).to_have_count(0)

    page.click("#tab-playground")
    for question in ("How much is delivery?", "When do you open?", "Do you deliver bouquets?"):
        page.fill("#playground-input", question)
        page.keyboard.press("Enter")
        expect(page.locator("#playground-log")).to_contain_text(question)
        expect(page.locator("#playground-send")).to_be_enabled()  # the answer has arrived
    log = page.locator("#playground-log")
    expect(log).to_contain_text("5 euros")
    expect(log.locator(".chat-sources svg").first).to_be_visible()
    expect(log).not_to_contain_text("📎")
    page.wait_for_timeout(500)
    gap = log.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight")
    assert gap < 60, f"the playground is {gap}px above its newest message"


def test_russian_browser_404_and_favicon(browser, app_url):
    context = browser.new_context(base_url=app_url, locale="ru-RU", extra_http_headers={"Accept-Language": "ru-RU,ru"})
    context.set_default_timeout(PATIENCE_MS)
    page = context.new_page()
    try:
        open_page(page, "/signin")
        expect(page.get_by_role("heading", name="С возвращением")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        expect(page).to_have_title("Вход · ChatAI")
        open_page(page, "/signup")
        expect(page.get_by_role("heading", name="Создайте аккаунт")).to_be_visible()

        open_page(page, "/no/such/page")
        expect(page.locator("#not-found")).to_contain_text("Страница не найдена")
        expect(page).to_have_title("Страница не найдена · ChatAI")
        page.click("#not-found-back")
        page.wait_for_url("**/signin**")

        favicon = page.request.get("/favicon.ico")
        assert favicon.status == 200 and favicon.body()[:4] == b"\x00\x00\x01\x00"
    finally:
        context.close()
