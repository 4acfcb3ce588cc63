"""The same conversation, through every channel, against the one pipeline (chatai/conversation).

Script: a question answered by the assistant; a request for a person -> the dialog waits and the customer
is told; an operator takes over and replies -> the customer sees the reply; release -> the AI answers again
(with the operator's reply in its history); a zero balance -> the polite notice and the dialog waits (for a
channel that is billable; the owner's playground is never charged and keeps answering).

Telegram runs through the real runner and the fake Bot API (tests/fakes/telegram_server.py); the playground
through chatai/conversation/playground.ask, as the dashboard calls it.

The website widget ("web") goes through the visitor's HTTP API (chatai/widget/routes.py), as the panel does.
Telegram Business ("business") through the runner too, as business_message updates of a connected account.

Adding a channel: write a fixture returning an object with the `Driver` shape
below (`ask` sends one customer message and returns the reply the customer saw; `sees` waits until the
customer saw a given text; `dialog_id`), then add its fixture name to DRIVERS. Nothing else changes.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import pytest
import sqlalchemy as sa

from chatai.conversation import charging, playground
from chatai.db.models import MICRO, Dialog, Message, TelegramUpdate
from chatai.db.money_models import Charge, Price
from chatai.db.session import async_session
from chatai.services import billing, handoff, inbox
from tests.bots.conftest import FakeBrain, connect, wait_for

DRIVERS = ["telegram_driver", "playground_driver", "web_driver", "business_driver"]


class Driver(Protocol):
    channel: str
    billable: bool  # False: never charged (the playground)
    sends_notices: bool  # release/timeout notices reach the customer as messages
    brain: FakeBrain

    async def ask(self, text: str) -> str: ...

    async def sees(self, text: str) -> bool: ...

    async def dialog_id(self) -> uuid.UUID: ...


class TelegramDriver:
    channel, billable, sends_notices = "telegram", True, True

    def __init__(self, fake, token: str, bot_id: uuid.UUID, brain: FakeBrain, chat_id: int = 4242) -> None:
        self.fake, self.token, self.bot_id, self.brain, self.chat_id = fake, token, bot_id, brain, chat_id

    async def ask(self, text: str) -> str:
        before = len(self.fake.sent_messages(self.token))
        self.fake.push_text(self.token, text, chat_id=self.chat_id)
        return (await self.fake.await_sent(self.token, before + 1))[before]["text"]

    async def sees(self, text: str) -> bool:
        return bool(await wait_for(lambda: any(m["text"] == text for m in self.fake.sent_messages(self.token))))

    async def dialog_id(self) -> uuid.UUID:
        async with async_session() as s:
            return (await s.execute(sa.select(Dialog.id).where(Dialog.bot_id == self.bot_id,
                                                               Dialog.telegram_chat_id == self.chat_id))).scalar_one()


class BusinessDriver(TelegramDriver):
    """A customer writing to the owner's own account, which connected the bot in Telegram Business. The AI
    resumes there without announcing itself: no release/timeout notices."""

    channel, billable, sends_notices = "business", True, False

    async def ask(self, text: str) -> str:
        from tests.fakes import telegram_business

        before = len(self.fake.sent_messages(self.token))
        telegram_business.customer_message(self.fake, self.token, "bc-9", text, chat_id=self.chat_id)
        reply = (await self.fake.await_sent(self.token, before + 1))[before]
        assert reply["business_connection_id"] == "bc-9"
        return reply["text"]


class PlaygroundDriver:
    channel, billable, sends_notices = "playground", False, False

    def __init__(self, owner_id: uuid.UUID, assistant_id: uuid.UUID, brain: FakeBrain) -> None:
        self.owner_id, self.assistant_id, self.brain = owner_id, assistant_id, brain

    async def ask(self, text: str) -> str:
        _dialog, outcome = await playground.ask(owner_id=self.owner_id, assistant_id=self.assistant_id,
                                                question=text, language="en", answer_fn=self.brain)
        return outcome.text

    async def sees(self, text: str) -> bool:  # the playground shows the dialog's transcript
        transcript = await _act(inbox.get_transcript, owner_id=self.owner_id, dialog_id=await self.dialog_id())
        return any(m.text == text and m.delivery_status != "failed" for m in transcript.messages)

    async def dialog_id(self) -> uuid.UUID:
        async with async_session() as s:
            return (await s.execute(sa.select(Dialog.id).where(Dialog.owner_id == self.owner_id,
                                                               Dialog.channel == "playground"))).scalar_one()


class WebDriver:
    """The website widget: the visitor's panel API (chatai/widget/routes.py) through the app's real ASGI routes."""

    channel, billable, sends_notices = "web", True, True

    def __init__(self, client, tenant, visitor: dict, brain: FakeBrain) -> None:
        self.client, self.tenant, self.visitor, self.brain = client, tenant, visitor, brain

    async def ask(self, text: str) -> str:
        from tests.widget.conftest import open_stream

        body = {"text": text, "client_message_id": uuid.uuid4().hex, "dialog": self.visitor["dialog"]}
        async with open_stream("POST", f"/widget/api/{self.tenant.assistant_id}/messages", token=self.visitor["token"],
                               body=body) as stream:
            self.visitor["dialog"] = (await stream.next_event("accepted"))[1]["dialog"]  # the first one starts it
            return (await stream.next_event("final"))[1]["message"]["text"]

    async def sees(self, text: str) -> bool:  # what the panel shows on (re)load
        from tests.widget.conftest import start_session

        shown = (await start_session(self.client, self.tenant.assistant_id, token=self.visitor["token"])).json()
        return any(m["text"] == text for m in shown["messages"])

    async def dialog_id(self) -> uuid.UUID:
        return uuid.UUID(self.visitor["dialog"])


@pytest.fixture
async def telegram_driver(tenant, fake_telegram, runners) -> TelegramDriver:
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    return TelegramDriver(fake_telegram, token, bot.id, brain)


@pytest.fixture
async def business_driver(tenant, fake_telegram, runners) -> BusinessDriver:
    from chatai.business.models import BusinessConnection
    from tests.fakes import telegram_business

    brain = FakeBrain()
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    telegram_business.connect(fake_telegram, token, connection_id="bc-9", user_id=990001)

    async def connected() -> bool:
        async with async_session() as s:
            return await s.get(BusinessConnection, (bot.id, "bc-9")) is not None

    assert await wait_for(connected)
    return BusinessDriver(fake_telegram, token, bot.id, brain)


@pytest.fixture
async def playground_driver(tenant) -> PlaygroundDriver:
    return PlaygroundDriver(tenant.owner_id, tenant.assistant_id, FakeBrain())


@pytest.fixture
async def web_driver(tenant, monkeypatch):
    import httpx

    from chatai.settings import get_settings
    from chatai.widget import answering
    from tests.widget.conftest import APP, app_origin, enable_widget, start_session

    brain = FakeBrain()
    monkeypatch.setattr(answering, "ANSWER_FN", brain)
    await enable_widget(tenant)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url=get_settings().public_url,
                                 headers={"Origin": app_origin()}) as client:
        visitor = (await start_session(client, tenant.assistant_id, new=True)).json()
        yield WebDriver(client, tenant, visitor, brain)


@pytest.fixture(params=DRIVERS)
def driver(request) -> Driver:
    return request.getfixturevalue(request.param)


async def _act(fn, **kwargs):
    async with async_session() as s:
        return await fn(s, **kwargs)


async def _status(dialog_id: uuid.UUID) -> str:
    async with async_session() as s:
        return (await s.get(Dialog, dialog_id)).status


async def _nothing_owed() -> bool:
    """Every stored Telegram update is done with (its charge settled): none of them reads prices any more."""
    async with async_session() as s:
        return not (await s.execute(sa.select(TelegramUpdate.update_id)
                                    .where(TelegramUpdate.status == "received"))).first()


async def _price_answers(owner_id: uuid.UUID, monkeypatch) -> None:
    assert await wait_for(_nothing_owed)
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=5 * MICRO), Price(item="qa_answer", price_micros=5 * MICRO)])
        await billing.ensure_account(s, user_id=owner_id)  # and no money on it
        await s.commit()
    monkeypatch.setattr(charging, "_prices", {})  # after the commit: no price of before it stays cached


async def test_one_script_through_every_channel(driver: Driver, tenant, monkeypatch):
    owner = tenant.owner_id
    # A question: the assistant answers.
    assert "Answer to: When do you deliver?" in await driver.ask("When do you deliver?")
    dialog_id = await driver.dialog_id()
    assert await _status(dialog_id) == "ai"
    async with async_session() as s:
        assert (await s.get(Dialog, dialog_id)).channel == driver.channel

    # Asking for a person: the dialog waits, the customer is told, the AI is not asked.
    calls = len(driver.brain.calls)
    assert await driver.ask("I want to talk to a person") == handoff.end_user_text("waiting", "en")
    assert await _status(dialog_id) == "waiting"
    assert len(driver.brain.calls) == calls

    # A person takes over and replies: the customer sees it.
    await _act(handoff.take_over, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    await _act(handoff.send_operator_message, owner_id=owner, dialog_id=dialog_id, operator_id=owner,
               text="Hello, this is Anna from support")
    assert await driver.sees("Hello, this is Anna from support")

    # Released: the AI answers again, with the operator's reply in what it was given.
    await _act(handoff.release, owner_id=owner, dialog_id=dialog_id, operator_id=owner)
    assert await _status(dialog_id) == "ai"
    if driver.sends_notices:  # the playground shows the release as an event of the transcript instead
        assert await driver.sees(handoff.end_user_text("released", "en"))
    assert "Answer to: And on weekends?" in await driver.ask("And on weekends?")
    assert ("operator", "Hello, this is Anna from support") in driver.brain.calls[-1]["history"]

    # A zero balance: a billable channel tells the customer politely and waits for a person; the playground
    # is never charged (no reservation at all) and keeps answering.
    await _price_answers(owner, monkeypatch)
    calls = len(driver.brain.calls)
    reply = await driver.ask("Do you ship abroad?")
    async with async_session() as s:
        charges = (await s.execute(sa.select(Charge.status))).scalars().all()
    if driver.billable:
        assert reply == charging.ZERO_BALANCE_TEXT["en"]
        assert await _status(dialog_id) == "waiting"
        assert len(driver.brain.calls) == calls
    else:
        assert "Answer to: Do you ship abroad?" in reply
        assert await _status(dialog_id) == "ai" and charges == []
    async with async_session() as s:
        roles = (await s.execute(sa.select(Message.role).where(Message.dialog_id == dialog_id)
                                 .order_by(Message.created_at))).scalars().all()
    assert roles.count("user") == 4 and roles.count("operator") == 1
