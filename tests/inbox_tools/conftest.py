"""Two businesses (A with two bots' worth of dialogs of one Telegram customer, B with nothing of A's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chatai.db.models import Bot, Dialog, Message
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants


@dataclass
class World:
    token_a: str
    token_b: str
    owner_a: uuid.UUID
    owner_b: uuid.UUID
    dialog: uuid.UUID  # A's, customer 555 through bot one
    other_dialog: uuid.UUID  # A's, the same customer through bot two, earlier
    stranger_dialog: uuid.UUID  # A's, another customer
    b_dialog: uuid.UUID  # B's


async def _bot(s, owner_id, assistant_id, n: int) -> Bot:
    bot = Bot(assistant_id=assistant_id, owner_id=owner_id, telegram_bot_id=n, username=f"shop{n}_bot",
              token_encrypted=encrypt_secret(f"{n}:" + "x" * 35), token_hint=f"{n}:…xxxx", status="running")
    s.add(bot)
    await s.flush()
    return bot


@pytest.fixture
async def world(db) -> World:
    now = datetime.now(UTC)
    async with async_session() as s:
        token_a = await accounts.sign_up(s, email="anna@shop-a.example", password="password a")
        token_b = await accounts.sign_up(s, email="boris@shop-b.example", password="password b")
        user_a = await accounts.user_for_token(s, token_a)
        user_b = await accounts.user_for_token(s, token_b)
        helper_a = await assistants.create_assistant(s, owner_id=user_a.id, name="A's assistant")
        helper_b = await assistants.create_assistant(s, owner_id=user_b.id, name="B's assistant")
        one, two = await _bot(s, user_a.id, helper_a.id, 11), await _bot(s, user_a.id, helper_a.id, 12)
        dialog = Dialog(owner_id=user_a.id, assistant_id=helper_a.id, bot_id=one.id, telegram_chat_id=555,
                        telegram_user_id=555, user_name="Ivan Petrov", user_username="ivan_p", user_language="ru",
                        created_at=now - timedelta(days=1), last_message_at=now)
        other = Dialog(owner_id=user_a.id, assistant_id=helper_a.id, bot_id=two.id, telegram_chat_id=555,
                       telegram_user_id=555, user_name="Ivan", user_language="ru", created_at=now - timedelta(days=30),
                       last_message_at=now - timedelta(days=29))
        stranger = Dialog(owner_id=user_a.id, assistant_id=helper_a.id, bot_id=one.id, telegram_chat_id=777,
                          telegram_user_id=777, user_name="Olga", last_message_at=now - timedelta(hours=1))
        b_dialog = Dialog(owner_id=user_b.id, assistant_id=helper_b.id, user_name="B's customer", channel="playground",
                          last_message_at=now)
        s.add_all([dialog, other, stranger, b_dialog])
        await s.flush()
        ago = [now - timedelta(minutes=m) for m in (5, 4)]
        s.add_all([Message(dialog_id=dialog.id, role="user", text="Где мой заказ?", created_at=ago[0]),
                   Message(dialog_id=dialog.id, role="assistant", text="Он в пути.", created_at=ago[1]),
                   Message(dialog_id=b_dialog.id, role="user", text="B's question")])
        await s.commit()
        return World(token_a, token_b, user_a.id, user_b.id, dialog.id, other.id, stranger.id, b_dialog.id)
