"""Sign up, sign out, sign in, see the dashboard; wrong password; language switch; guards."""

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import open_page
from tests.e2e.conftest import sign_up as _sign_up


def test_sign_up_sign_out_sign_in_reaches_dashboard(page):
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    _sign_up(page, email, "a good password")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text(email).first).to_be_visible()

    page.click("#sign-out")
    page.wait_for_url("**/signin**")
    # The dashboard is closed to a signed-out browser.
    open_page(page, "/dashboard")
    page.wait_for_url("**/signin**")

    page.fill("#email", email)
    page.fill("#password", "a good password")
    page.click("#submit")
    page.wait_for_url("**/dashboard**")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_wrong_password_shows_an_error(page):
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    _sign_up(page, email, "a good password")
    page.click("#sign-out")
    page.wait_for_url("**/signin**")
    open_page(page, "/signin")
    page.fill("#email", email)
    page.fill("#password", "not the password")
    page.click("#submit")
    expect(page.locator("#form-error")).to_contain_text("Wrong email or password")
    assert "/signin" in page.url


def test_owner_cannot_open_admin_panel_and_language_switches(page):
    _sign_up(page, f"owner-{uuid.uuid4().hex[:8]}@example.com", "a good password")
    open_page(page, "/admin")
    page.wait_for_url("**/dashboard**")
    open_page(page, "/dashboard/settings")
    page.get_by_role("combobox", name="language").first.click()
    page.get_by_role("option", name="Русский").click()
    expect(page.get_by_role("heading", name="Настройки")).to_be_visible()
