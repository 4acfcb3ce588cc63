"""Connect a bot in the dashboard and watch it go "running"; a wrong token is refused."""

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up
from tests.fakes import telegram_business
from tests.fakes.telegram_server import make_token


def test_connect_bot_goes_running_and_answers(page, telegram):
    bot_number = 7_000_000 + uuid.uuid4().int % 1_000_000
    token = make_token(bot_number)
    telegram.add_bot(token, f"shop{bot_number}_bot")
    sign_up(page, f"bots-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Shop assistant")
    open_page(page, "/dashboard/bots")

    page.fill("#bot-token", "123:not-a-token")
    page.click("#connect-bot")
    expect(page.locator("#form-error")).to_be_visible()

    page.fill("#bot-token", token)
    page.click("#connect-bot")
    card = page.locator(".bot-card", has_text=f"@shop{bot_number}_bot")
    expect(card.locator(".bot-status")).to_have_text("Running")
    # The token is never shown back, only its hint.
    assert token not in page.content()

    telegram.push_text(token, "/start")
    assert telegram.wait_sent(token, 1)

    # Telegram Business: the account that connected the bot appears on its card; a change in Telegram shows
    # within the card's status refresh, with no reload.
    telegram_business.connect(telegram, token, connection_id=f"bc-{bot_number}", user_id=bot_number + 1,
                              first_name="Maria", username="maria_shop")
    connection = card.locator(".business-connection")
    expect(connection).to_contain_text("Maria (@maria_shop)")
    expect(connection.locator(".business-state")).to_have_text("Answering")
    telegram_business.change(telegram, token, f"bc-{bot_number}", enabled=False)
    expect(connection.locator(".business-state")).to_have_text("Turned off in Telegram")

    card.get_by_role("button", name="Pause").click()
    expect(card.locator(".bot-status")).to_have_text("Paused")
