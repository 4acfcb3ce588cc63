"""Team seats in the browser (what only a browser shows): an owner invites an operator by mail, the operator
joins through the mailed link by creating an account, sees the owner's business without billing or team in
the sidebar, takes a dialog, and the owner's open inbox shows who holds it without a reload; the owner removes
the operator and the operator's open tab is sent to sign-in on its next event."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import PATIENCE_MS, create_assistant, open_page, sign_up
from tests.e2e.test_inbox_live import _connect_bot


def test_an_invited_operator_takes_a_dialog_live_and_is_removed(browser, app_url, telegram, bot_runner):
    from tests.fakes.smtp_server import RUNNING

    owner_ctx = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    operator_ctx = browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900})
    for context in (owner_ctx, operator_ctx):
        context.set_default_timeout(PATIENCE_MS)
    try:
        owner = owner_ctx.new_page()
        owner_email = f"team-owner-{uuid.uuid4().hex[:8]}@example.com"
        sign_up(owner, owner_email)
        create_assistant(owner, "Team helper")
        token = _connect_bot(owner, telegram)
        telegram.push_text(token, "Where is my order?", chat_id=5151, first_name="Nadia")

        operator_email = f"team-op-{uuid.uuid4().hex[:8]}@example.com"
        open_page(owner, "/dashboard/team")
        owner.fill("#invite-email", operator_email)
        owner.click("#invite-send")
        expect(owner.locator("#team-pending")).to_contain_text(operator_email)
        link = RUNNING.wait_for(operator_email)[-1].link("/auth/invite?token=")

        operator = operator_ctx.new_page()
        open_page(operator, link)
        expect(operator.locator("#invite-intro")).to_contain_text(owner_email)
        operator.fill("#password", "a good password for the team")
        operator.click("#join-submit")
        operator.wait_for_url("**/dashboard**")
        operator.wait_for_selector("#hydrated", state="attached")
        # The owner's business, as an operator: no billing, no team, no bots in the sidebar.
        expect(operator.locator("#nav-nav_inbox").first).to_be_visible()
        expect(operator.locator("#nav-nav_billing")).to_have_count(0)
        expect(operator.locator("#nav-nav_team")).to_have_count(0)

        open_page(owner, "/dashboard/inbox")
        expect(owner.locator(".dialog-item", has_text="Nadia")).to_be_visible()
        open_page(operator, "/dashboard/inbox")
        operator.locator(".dialog-item", has_text="Nadia").click()
        operator.click("#assign-take")
        expect(operator.locator(".dialog-item", has_text="Nadia").locator(".dialog-assignee")).to_have_text(
            "Assigned to you")
        # Live in the owner's tab, no reload.
        expect(owner.locator(".dialog-item", has_text="Nadia").locator(".dialog-assignee")).to_have_text(
            operator_email)

        open_page(owner, "/dashboard/team")
        expect(owner.locator("#team-people")).to_contain_text(operator_email)
        owner.locator(".team-remove").first.click()
        expect(owner.locator("#team-people")).to_have_count(0)
        expect(owner.locator("#team-activity")).to_contain_text(f"removed {operator_email}")
        # The operator's open tab: its next event finds the session gone.
        operator.locator(".dialog-item", has_text="Nadia").click()
        operator.wait_for_url("**/signin**")
    finally:
        owner_ctx.close()
        operator_ctx.close()
