"""The admin panel in a browser: find an owner, open their account, credit their balance with a reason;
pause an owner's bot, which the owner then sees as paused by an admin."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.fakes.telegram_server import make_token
from tests.waits import PATIENCE_MS

ADMIN_PASSWORD = "granite falcon 88 meadow"


def _make_admin() -> str:
    from chatai.db.session import async_session, reset_engines
    from chatai.services import accounts

    email = f"root-{uuid.uuid4().hex[:8]}@example.com"

    async def go() -> None:
        async with async_session() as session:
            await accounts.create_user(session, email=email, password=ADMIN_PASSWORD, role="admin")
        reset_engines()

    # In a thread: sync Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()
    return email


def _sign_in(page, email: str, password: str) -> None:
    open_page(page, "/signin")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#submit")


def test_admin_finds_an_owner_and_credits_the_balance_then_pauses_the_bot(browser, app_url, telegram):
    owner_ctx = browser.new_context(base_url=app_url)
    admin_ctx = browser.new_context(base_url=app_url)
    owner_ctx.set_default_timeout(PATIENCE_MS)
    admin_ctx.set_default_timeout(PATIENCE_MS)
    try:
        owner = owner_ctx.new_page()
        owner_email = f"shop-{uuid.uuid4().hex[:8]}@example.com"
        sign_up(owner, owner_email)
        create_assistant(owner, "Shop")
        number = 6_000_000 + uuid.uuid4().int % 1_000_000
        token = make_token(number)
        telegram.add_bot(token, f"adm{number}_bot")
        open_page(owner, "/dashboard/bots")
        owner.fill("#bot-token", token)
        owner.click("#connect-bot")
        card = owner.locator(".bot-card", has_text=f"@adm{number}_bot")
        expect(card.locator(".bot-status")).to_have_text("Running")

        admin = admin_ctx.new_page()
        _sign_in(admin, _make_admin(), ADMIN_PASSWORD)
        admin.wait_for_url("**/admin**")
        open_page(admin, "/admin/users")
        admin.get_by_label("Search by email").fill(owner_email[:12])
        admin.get_by_role("link", name=owner_email).click()
        admin.wait_for_url("**/admin/users/**")
        expect(admin.get_by_role("heading", name=owner_email)).to_be_visible()
        admin.fill("#adjust-amount", "100")
        admin.fill("#adjust-reason", "Goodwill for a slow start")
        admin.click("#adjust-submit")
        expect(admin.get_by_text("Goodwill for a slow start")).to_be_visible()
        expect(admin.get_by_text("350.00").first).to_be_visible()  # 250 welcome + 100

        open_page(admin, "/admin/bots")
        row = admin.locator("tr", has_text=f"adm{number}_bot")
        row.get_by_role("button", name="Pause").click()
        open_page(owner, "/dashboard/bots")
        expect(card.locator(".admin-paused")).to_be_visible()
        expect(card.locator(".bot-status")).to_have_text("Paused")
    finally:
        owner_ctx.close()
        admin_ctx.close()
