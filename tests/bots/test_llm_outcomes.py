"""The LLM's verdict through the whole Telegram path: the real runner, the real answer pipeline, the fake
Bot API and the fake OpenAI-compatible server. A cited answer is charged; "not in the passages" is the
don't-know notice, a handoff, no charge and a line in the owner's unanswered list."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from chatai.db.models import MICRO, Dialog, Message, utcnow
from chatai.db.session import async_session
from chatai.rag.answer import TEXTS
from chatai.rag.worker import process_pending
from chatai.services import analytics, knowledge
from tests.bots import test_charging
from tests.bots.conftest import connect, wait_for
from tests.bots.test_charging import PRICE, _fund, _settled
from tests.fakes import openai_server
from tests.fakes.openai_server import structured

priced = test_charging.priced  # the fixtures, for the test of this module
fake_openai = openai_server.fake_openai

FAQ = """# Delivery

We deliver across the city within two working days. Delivery costs 5 EUR.

# Returns

Unopened items can be returned within 14 days.
"""


def reply(body: dict) -> str:
    question = body["messages"][-1]["content"]
    if "deliver" in question:
        return structured("We deliver within two working days, for 5 EUR.", passages=[1])
    return structured("", passages=[], in_passages=False)  # "Do you deliver to the Moon?" is not in the FAQ


async def test_dont_know_hands_off_and_is_not_charged_while_a_cited_answer_is(fake_openai, priced, fake_telegram,
                                                                              runners):
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=priced.owner_id, assistant_id=priced.assistant_id,
                                        filename="faq.md", data=FAQ.encode())
    await process_pending()
    await _fund(priced.owner_id, 100 * MICRO)
    fake_openai.reply = reply
    _bot, token = await connect(fake_telegram, priced)
    await runners()  # the real answer function

    fake_telegram.push_text(token, "When do you deliver?", chat_id=7)
    sent = await fake_telegram.await_sent(token, 1)
    assert sent[0]["text"].startswith("We deliver within two working days, for 5 EUR.")
    await wait_for(lambda: _settled(priced.owner_id, ["committed"]))

    fake_telegram.push_text(token, "Can I return opened items after a month?", chat_id=8)
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"] == TEXTS["en"]["dont_know_person"]  # one message, not "don't know" + "I called a person"
    balance, _reserved, charges = await wait_for(lambda: _settled(priced.owner_id, ["committed", "released"]))
    assert balance == 100 * MICRO - PRICE  # the cited answer only
    async with async_session() as s:
        rows = (await s.execute(sa.select(Dialog.telegram_chat_id, Dialog.status)
                                .order_by(Dialog.telegram_chat_id))).all()
        replies = (await s.execute(sa.select(Message.answered_by, Message.needs_handoff, Message.cost_micros)
                                   .where(Message.role == "assistant").order_by(Message.created_at))).all()
    assert [tuple(r) for r in rows] == [(7, "ai"), (8, "waiting")]
    assert [tuple(r) for r in replies] == [("llm", False, PRICE), ("fallback", True, 0)]
    assert len(fake_openai.chat_requests("grounded_answer")) == 2
    async with async_session() as s:  # the owner's unanswered list shows the don't-know question only
        period = analytics.Period(since=utcnow() - timedelta(hours=1), until=utcnow() + timedelta(seconds=1))
        groups = await analytics.unanswered(s, owner_id=priced.owner_id, period=period)
    assert [(g.question, g.count) for g in groups] == [("Can I return opened items after a month?", 1)]
