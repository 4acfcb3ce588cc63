"""Email in the browser, against the real app and a real SMTP server on loopback: sign up -> (unverified:
banner, bot refused) -> verify by the mailed link -> connect a bot; forgot -> reset by the link -> sign in."""

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_in, sign_up
from tests.fakes.telegram_server import make_token

PASSWORD = "a good password"


def test_sign_up_verify_by_mail_then_connect_a_bot(page, telegram, smtp_server):
    email = f"verify-{uuid.uuid4().hex[:8]}@example.com"
    open_page(page, "/signup")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#check-inbox")).to_contain_text(email)
    mail = smtp_server.wait_for(email)[-1]
    assert mail.subject == "Confirm your email address for ChatAI"

    # Before confirming: the dashboard works, a banner asks to confirm, and a bot cannot be connected.
    open_page(page, "/signin")
    sign_in(page, email, PASSWORD)
    expect(page.locator("#email-banner")).to_contain_text(email)
    create_assistant(page, "Mail assistant")
    bot_number = 8_000_000 + uuid.uuid4().int % 1_000_000
    token = make_token(bot_number)
    telegram.add_bot(token, f"mail{bot_number}_bot")
    open_page(page, "/dashboard/bots")
    page.fill("#bot-token", token)
    page.click("#connect-bot")
    expect(page.locator("#form-error")).to_contain_text("Confirm your email address first")

    page.goto(mail.link("/auth/verify"))
    page.wait_for_url("**/dashboard**")  # signed in already: the sign-in page sends us on
    open_page(page, "/dashboard/bots")
    expect(page.locator("#email-banner")).to_have_count(0)
    page.fill("#bot-token", token)
    page.click("#connect-bot")
    card = page.locator(".bot-card", has_text=f"@mail{bot_number}_bot")
    expect(card.locator(".bot-status")).to_have_text("Running")


def test_forgot_password_reset_by_mail_then_sign_in(page, smtp_server):
    email = f"forgot-{uuid.uuid4().hex[:8]}@example.com"
    sign_up(page, email, PASSWORD)
    page.click("#sign-out")
    page.wait_for_url("**/signin**")
    open_page(page, "/signin")
    page.click("#to-forgot")
    page.wait_for_url("**/forgot-password**")
    page.wait_for_selector("#hydrated", state="attached")
    page.fill("#email", email)
    page.click("#submit")
    expect(page.locator("#reset-sent")).to_contain_text(email)
    link = smtp_server.wait_for(email, count=2)[-1].link("/auth/reset")  # after the verification mail

    page.goto(link)
    page.wait_for_selector("#hydrated", state="attached")
    page.fill("#password", "a brand new phrase")
    page.click("#submit")
    page.wait_for_url(lambda url: "/signin" in url and "notice=password_reset" in url)
    expect(page.locator("#notice")).to_contain_text("Your password has been changed")
    sign_in(page, email, "a brand new phrase")

    page.click("#sign-out")
    page.wait_for_url("**/signin**")
    page.goto(link)  # the link worked once
    page.wait_for_selector("#hydrated", state="attached")
    expect(page.locator("#form-error")).to_contain_text("This reset link is not valid")
