"""A top-up in the browser: the billing page sends the owner to the payment provider's confirmation page
(the YooKassa stand-in), and back on the dashboard the balance is credited exactly once."""

import uuid

from playwright.sync_api import expect

from chatai.web.payments_api import YOOKASSA_WEBHOOK
from tests.e2e.conftest import open_page, sign_up


def test_top_up_through_the_confirmation_page_credits_the_balance(page, app_url, yookassa):
    yookassa.webhook_url = app_url + YOOKASSA_WEBHOOK
    sign_up(page, f"payer-{uuid.uuid4().hex[:8]}@example.com")
    open_page(page, "/dashboard/billing")
    expect(page.locator("#billing")).to_contain_text("₽250.00")  # the welcome credit
    page.fill("#topup-amount", "750")
    page.click("#topup-pay")
    page.wait_for_url(f"{yookassa.url}/confirm/**")
    expect(page.get_by_role("heading")).to_contain_text("750.00 RUB")
    page.click("#pay")
    page.wait_for_url("**/dashboard/billing/**")
    page.wait_for_selector("#hydrated", state="attached")
    expect(page.locator("#billing")).to_contain_text("₽1,000.00")
    # The notification arrived as well: still credited once.
    assert yookassa.notifications
    open_page(page, "/dashboard/billing")
    expect(page.locator("#billing")).to_contain_text("₽1,000.00")
    expect(page.locator("#billing")).not_to_contain_text("₽1,750.00")
