"""Through the real bot runner and the fake Bot API: an internal note written while a person holds the
dialog never reaches the customer (not in any sendMessage, not in the AI's history afterwards), and the
customer's @username arrives on the dialog for the customer card."""

from __future__ import annotations

import sqlalchemy as sa

from chatai.db.models import Dialog
from chatai.db.session import async_session
from chatai.inbox_tools import customers, notes
from chatai.services import handoff
from tests.bots.conftest import FakeBrain, connect, runners, tenant, wait_for  # noqa: F401 - fixtures
from tests.fakes.telegram_server import fake_telegram  # noqa: F401 - fixture
from tests.fakes.telegram_updates import text_update

NOTE = "INTERNAL: he was refunded twice, do not refund again"


async def _dialog(bot_id, chat_id) -> Dialog | None:
    async with async_session() as s:
        return (await s.execute(sa.select(Dialog).where(Dialog.bot_id == bot_id, Dialog.telegram_chat_id == chat_id))
                ).scalar_one_or_none()


async def _act(fn, **kwargs):
    async with async_session() as s:
        return await fn(s, **kwargs)


async def test_note_never_reaches_the_customer_nor_the_ai(tenant, fake_telegram, runners):  # noqa: F811
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    owner = tenant.owner_id
    update = text_update("Where is my order?", chat_id=901, first_name="Ivan")
    update["message"]["from"]["username"] = "ivan_p"
    fake_telegram.push_update(token, update)
    await fake_telegram.await_sent(token, 1)
    dialog = await wait_for(lambda: _dialog(bot.id, 901))
    card = await _act(customers.customer_card, owner_id=owner, dialog_id=dialog.id)
    assert (card.name, card.username, card.language) == ("Ivan", "ivan_p", "en")

    await _act(handoff.take_over, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    await _act(notes.add_dialog_note, owner_id=owner, dialog_id=dialog.id, author_id=owner, author_name="anna",
               text=NOTE)
    await _act(handoff.send_operator_message, owner_id=owner, dialog_id=dialog.id, operator_id=owner,
               text="It ships tomorrow.")
    await fake_telegram.await_sent(token, 2)
    await _act(handoff.release, owner_id=owner, dialog_id=dialog.id, operator_id=owner)
    await fake_telegram.await_sent(token, 3)
    fake_telegram.push_text(token, "Thanks, and the refund?", chat_id=901, first_name="Ivan")
    sent = await fake_telegram.await_sent(token, 4)
    assert [m["chat_id"] for m in sent] == [901] * 4
    assert not any("refunded twice" in m["text"] for m in sent)
    assert sent[1]["text"] == "It ships tomorrow."
    history = brain.calls[-1]["history"]
    assert ("operator", "It ships tomorrow.") in history
    assert not any("refunded twice" in text for _, text in history)
    # A message without a username (they removed it) clears it: the card shows what Telegram shows now.
    fake_telegram.push_text(token, "Hello again", chat_id=901, first_name="Ivan")
    await fake_telegram.await_sent(token, 5)
    card = await _act(customers.customer_card, owner_id=owner, dialog_id=dialog.id)
    assert card.username == ""
    sent = fake_telegram.sent_messages(token)  # everything the bot ever sent: five answers, no note among them
    assert len(sent) == 5 and not any("refunded twice" in m["text"] for m in sent)
