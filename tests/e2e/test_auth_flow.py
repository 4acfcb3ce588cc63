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


def test_session_cookie_is_httponly_and_the_token_is_never_persisted(page):
    """The token is in an HttpOnly cookie that page scripts cannot read, and nowhere in Reflex's state
    files or in Redis (where a reader of those could replay it)."""
    import os

    import redis

    from chatai.settings import get_settings

    _sign_up(page, f"owner-{uuid.uuid4().hex[:8]}@example.com", "a good password")
    open_page(page, "/dashboard/bots")  # a few more events, so state is written
    cookie = next(c for c in page.context.cookies() if c["name"] == "chatai_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "chatai_session" not in page.evaluate("document.cookie")
    token = cookie["value"].encode()
    states = get_settings().data_dir / "web-states"
    files = [p for p in states.rglob("*") if p.is_file()]
    assert files, "no state files written: the check would prove nothing"
    assert not [p for p in files if token in p.read_bytes()]
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter("*"):
        kind = client.type(key)
        value = client.dump(key) if kind != b"none" else b""
        assert token not in (value or b""), key
    client.close()


def test_a_sign_in_ticket_works_only_in_the_browser_that_signed_in(page, browser, app_url):
    """Login CSRF (issue 19): the ticket's address, opened in another browser, signs nobody in; in the
    browser that signed in it does (its tab set the handover cookie), and the cookie goes once used."""
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    _sign_up(page, email, "a good password")
    page.click("#sign-out")
    page.wait_for_url("**/signin**")
    tickets = []

    def hold_the_ticket(route):  # the first load of /auth/session is stopped, so the ticket stays unused
        tickets.append(route.request.url)
        route.abort()

    page.route("**/auth/session?**", hold_the_ticket)
    open_page(page, "/signin")
    page.wait_for_selector("#hydrated", state="attached")
    page.fill("#email", email)
    page.fill("#password", "a good password")
    page.click("#submit")
    for _ in range(100):
        if tickets:
            break
        page.wait_for_timeout(100)
    assert tickets, "the sign-in never went to /auth/session"
    page.unroute("**/auth/session?**")

    other = browser.new_context(base_url=app_url)
    stranger = other.new_page()
    stranger.goto(tickets[0])
    stranger.wait_for_url("**/signin**")
    assert not [c for c in other.cookies() if c["name"] == "chatai_session"]
    other.close()

    page.goto(tickets[0])
    page.wait_for_url("**/dashboard**")
    names = {c["name"] for c in page.context.cookies()}
    assert "chatai_session" in names and "chatai_handover" not in names
