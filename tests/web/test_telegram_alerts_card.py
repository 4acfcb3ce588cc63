"""The settings page's "Get alerts in Telegram" card: a link to the owner's own bot only, the linked
accounts with their Telegram names, unlink, quiet hours; another owner's bot or account is refused with a
sentence. Handlers run on a real state tree against the real database."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Bot
from chatai.db.operator_models import TelegramOperator
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants, operator_links
from chatai.web.components.telegram_alerts import TelegramAlertsState
from chatai.web.i18n import text
from tests.web.clients import signed_in_root


async def _owner_with_bot(email: str, telegram_bot_id: int, username: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    async with async_session() as s:
        token = await accounts.sign_up(s, email=email, password="password a")
        user = await accounts.user_for_token(s, token)
        assistant = await assistants.create_assistant(s, owner_id=user.id, name="Help")
        bot = Bot(assistant_id=assistant.id, owner_id=user.id, telegram_bot_id=telegram_bot_id, username=username,
                  token_encrypted=encrypt_secret(f"{telegram_bot_id}:" + "x" * 35), status="running")
        s.add(bot)
        await s.flush()
        operator = TelegramOperator(owner_id=user.id, bot_id=bot.id, telegram_user_id=telegram_bot_id * 10,
                                    chat_id=telegram_bot_id * 10, name=f"<b>{username} staff</b>", username="staff")
        s.add(operator)
        await s.commit()
        return token, bot.id, operator.id


@pytest.fixture
async def owners(db):
    return await _owner_with_bot("a@example.com", 51, "a_bot"), await _owner_with_bot("b@example.com", 52, "b_bot")


async def _card(token: str) -> TelegramAlertsState:
    root = await signed_in_root(token)
    state = await root.get_state(TelegramAlertsState)
    await TelegramAlertsState.load_telegram_alerts.fn(state)
    return state


async def test_link_for_own_bot_and_own_accounts_only(owners):
    (token_a, bot_a, operator_a), (_, bot_b, operator_b) = owners
    state = await _card(token_a)
    assert state.bots == [{"id": str(bot_a), "username": "@a_bot"}] and state.selected_bot == str(bot_a)
    assert [(o["name"], o["bot"]) for o in state.operators] == [("<b>a_bot staff</b>", "@a_bot")]

    await TelegramAlertsState.handle_get_link.fn(state)
    assert re.fullmatch(r"https://t\.me/a_bot\?start=op_[A-Za-z0-9_-]{32}", state.link) and state.error == ""
    async with async_session() as s:  # the shown link works once, for this bot
        code = state.link.split("=", 1)[1]
        assert (await operator_links.redeem(s, bot_id=bot_a, code=code, telegram_user_id=1, chat_id=1,
                                            name="Anna")).outcome == "linked"

    state.selected_bot = str(bot_b)  # a forged selection: another owner's bot
    await TelegramAlertsState.handle_get_link.fn(state)
    assert state.link == "" and state.error == text("en", "operators_err_not_found")

    await TelegramAlertsState.handle_unlink.fn(state, str(operator_b))
    assert state.error == text("en", "operators_err_not_found")
    async with async_session() as s:
        assert await s.get(TelegramOperator, operator_b) is not None
    await TelegramAlertsState.handle_unlink.fn(state, str(operator_a))
    assert state.message == text("en", "operators_unlinked")
    assert [o["name"] for o in state.operators] == ["Anna"]


async def test_quiet_hours_saved_and_a_bad_time_refused(owners):
    (token_a, _, _), (token_b, _, _) = owners
    state = await _card(token_a)
    await TelegramAlertsState.handle_quiet_submit.fn(state, {"quiet_start": "22:00", "quiet_end": "07:30",
                                                             "timezone": "Europe/Moscow"})
    assert state.message == text("en", "operators_saved")
    again = await _card(token_a)
    assert (again.quiet_start, again.quiet_end, again.timezone) == ("22:00", "07:30", "Europe/Moscow")
    assert (await _card(token_b)).quiet_start == ""  # the other owner's own setting

    for form in ({"quiet_start": "25:00", "quiet_end": "07:00"}, {"quiet_start": "22:00", "quiet_end": ""},
                 {"quiet_start": "22:00", "quiet_end": "07:00", "timezone": "Mars/Base"}):
        await TelegramAlertsState.handle_quiet_submit.fn(again, form)
        assert again.error == text("en", "operators_err_bad_quiet_hours")
    assert (await _card(token_a)).quiet_start == "22:00"


async def test_signed_out_client_gets_nothing(owners):
    state = await _card("")
    assert state.bots == [] and state.operators == []
    await TelegramAlertsState.handle_get_link.fn(state)
    assert state.link == ""


async def test_inbox_shows_a_telegram_holder_and_only_releases(owners):
    """One holder: a dialog a Telegram operator holds is refused to the dashboard's take over and reply; the
    owner sees who answers in Telegram and may hand it back to the AI."""
    from chatai.db.models import Dialog, Message
    from chatai.db.operator_models import OperatorHold
    from chatai.web.state.inbox import InboxState

    (token_a, bot_a, operator_a), _ = owners
    async with async_session() as s:
        owner_id = (await s.get(Bot, bot_a)).owner_id
        assistant_id = (await s.get(Bot, bot_a)).assistant_id
        dialog = Dialog(owner_id=owner_id, assistant_id=assistant_id, bot_id=bot_a, telegram_chat_id=5,
                        user_name="Alice", status="human", operator_id=owner_id)
        s.add(dialog)
        await s.flush()
        s.add_all([Message(dialog_id=dialog.id, role="user", text="hello"),
                   OperatorHold(dialog_id=dialog.id, operator_id=operator_a)])
        await s.commit()
    root = await signed_in_root(token_a)
    inbox = await root.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    await InboxState.open_dialog.fn(inbox, str(dialog.id))
    assert inbox.header["held_by"] == "telegram" and inbox.header["telegram_holder"] == "<b>a_bot staff</b>"

    for call in (InboxState.take_over.fn(inbox), InboxState.handle_reply_submit.fn(inbox, {"reply": "me too"})):
        await call
        assert inbox.error == text("en", "inbox_err_held_by_other")
    async with async_session() as s:
        assert (await s.scalar(sa.select(sa.func.count()).select_from(Message).where(
            Message.dialog_id == dialog.id, Message.role == "operator"))) == 0
    await InboxState.release.fn(inbox)
    assert inbox.error == "" and inbox.header["status"] == "ai" and inbox.header["held_by"] == ""
