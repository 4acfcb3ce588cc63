"""Upload a file, watch it reach "ready", find its content in the test console and the playground."""

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up

DOC = """# Opening hours

Our bakery on Elm Street opens at 7 am and closes at 6 pm from Monday to Saturday.

# Delivery

We deliver sourdough loaves within the city for a flat fee of 4 euros.
"""


def test_upload_reaches_ready_and_content_is_searchable(page, tmp_path):
    sign_up(page, f"kb-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Bakery helper")
    open_page(page, "/dashboard/knowledge")

    good = tmp_path / "bakery.md"
    good.write_text(DOC)
    empty = tmp_path / "empty.txt"
    empty.write_text("   ")
    page.locator("#kb_upload input[type=file]").set_input_files([str(good), str(empty)])

    row = page.locator(".document-row", has_text="bakery.md")
    expect(row).to_have_attribute("data-status", "ready")
    # The bad file is refused with a specific reason and not listed.
    expect(page.locator(".upload-error")).to_contain_text("empty.txt")
    expect(page.locator(".document-row", has_text="empty.txt")).to_have_count(0)

    page.click("#tab-test")
    page.fill("#search-query", "when do you open?")
    page.click("#search-submit")
    first = page.locator(".search-hit").first
    expect(first).to_contain_text("bakery.md")
    expect(first).to_contain_text("7 am")
    # What the assistant would do with it, against its "How sure before answering" setting.
    expect(page.locator(".search-verdict")).to_contain_text("The assistant would")

    page.click("#tab-playground")
    page.fill("#playground-input", "How much is delivery?")
    page.keyboard.press("Enter")
    expect(page.locator("#playground-log")).to_contain_text("4 euros")


def test_user_text_is_never_rendered_as_html(page, tmp_path):
    sign_up(page, f"xss-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "<img src=x onerror=window.__xss=1>")
    open_page(page, "/dashboard/assistants")
    expect(page.get_by_text("<img src=x onerror=window.__xss=1>")).to_be_visible()
    assert page.evaluate("window.__xss") is None


def test_qa_pair_add_edit_answered_directly(page):
    sign_up(page, f"qa-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Bakery QA")
    open_page(page, "/dashboard/knowledge")
    page.click("#tab-qa")
    page.fill("#qa-question", "Do you sell gluten-free bread?")
    page.fill("#qa-answer", "Yes, every Friday.")
    page.click("#qa-submit")
    row = page.locator(".qa-row", has_text="gluten-free")
    expect(row).to_contain_text("every Friday")

    row.get_by_title("edit").click()
    expect(page.locator("#qa-question")).to_have_value("Do you sell gluten-free bread?")
    page.fill("#qa-answer", "Yes, on Fridays and Saturdays.")
    page.click("#qa-submit")
    expect(row).to_contain_text("Fridays and Saturdays")
    expect(page.locator(".qa-row")).to_have_count(1)

    page.click("#tab-playground")
    page.fill("#playground-input", "Do you sell gluten-free bread?")
    page.keyboard.press("Enter")
    log = page.locator("#playground-log")
    expect(log).to_contain_text("Fridays and Saturdays")
    expect(log).to_contain_text("Q&A pair")
