"""The playground channel: streamed text, a kept conversation, never charged, nobody else's assistant."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from chatai.conversation import playground, store
from chatai.db.models import MICRO, Dialog, Message
from chatai.db.money_models import Charge, Price
from chatai.db.session import async_session
from chatai.services import billing, inbox
from chatai.web.state.playground import transcript_rows
from tests.bots.conftest import FakeAnswer, FakeSource
from tests.factories import make_tenant


class StreamingBrain:
    """Yields the answer word by word (as rag.answer.stream_answer does), then the final answer."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    async def __call__(self, *, assistant_id, question, history=(), language=None):
        for word in self.words:
            await asyncio.sleep(0.01)
            yield word
        yield FakeAnswer("".join(self.words).strip(), [FakeSource("faq.md", "Delivery", 0.9, "2 days")])


async def test_answer_streams_then_is_stored_and_shown_again(tenant, monkeypatch):
    monkeypatch.setattr("chatai.conversation.playground._PushStream.interval", 0.0)  # every word pushed
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    dialog_id, outcome = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                              question="When?", language="en", on_text=on_text,
                                              answer_fn=StreamingBrain(["We ", "deliver ", "in 2 days."]))
    assert seen == ["We ", "We deliver ", "We deliver in 2 days."]  # the text so far, growing
    assert outcome.status == "answered" and outcome.text == "We deliver in 2 days."
    # A reload: the same conversation, the answer with its source.
    async with async_session() as s:
        again = await store.latest_dialog(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                          channel="playground")
        transcript = await inbox.get_transcript(s, owner_id=tenant.owner_id, dialog_id=again.id)
    assert again.id == dialog_id and again.bot_id is None
    rows = transcript_rows(transcript.messages, "ru")
    assert [(r["role"], r["text"]) for r in rows] == [("user", "When?"), ("assistant", "We deliver in 2 days.")]
    assert rows[1]["sources"] == "faq.md — Delivery" and rows[1]["meta"] == "llm"


async def test_playground_is_never_charged_even_at_zero_balance(tenant):
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=5 * MICRO), Price(item="qa_answer", price_micros=5 * MICRO)])
        await billing.ensure_account(s, user_id=tenant.owner_id)
        await s.commit()
    _dialog, outcome = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                            question="Price?", answer_fn=StreamingBrain(["Five."]))
    assert outcome.status == "answered" and outcome.text == "Five."
    async with async_session() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(Charge))).scalar() == 0
        assert (await s.execute(sa.select(sa.func.sum(Dialog.cost_micros)))).scalar() == 0


async def test_another_owners_assistant_or_dialog_is_refused(tenant):
    other = await make_tenant("other@example.com")
    with pytest.raises(store.NotYours):
        await playground.ask(owner_id=other.owner_id, assistant_id=tenant.assistant_id, question="Hi",
                             answer_fn=StreamingBrain(["x"]))
    mine, _ = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, question="Hi",
                                   answer_fn=StreamingBrain(["Hello."]))
    with pytest.raises(store.NotYours):  # their own assistant, my dialog id
        await playground.ask(owner_id=other.owner_id, assistant_id=other.assistant_id, question="Hi",
                             dialog_id=mine, answer_fn=StreamingBrain(["x"]))
    async with async_session() as s:
        texts = (await s.execute(sa.select(Message.text).where(Message.dialog_id == mine))).scalars().all()
    assert sorted(texts) == ["Hello.", "Hi"]


async def test_new_conversation_starts_a_fresh_dialog(tenant):
    first, _ = await playground.ask(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, question="One",
                                    answer_fn=StreamingBrain(["A."]))
    async with async_session() as s:
        fresh = await store.open_dialog(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        channel="playground", fresh=True)
        latest = await store.latest_dialog(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                           channel="playground")
    assert fresh.id != first and latest.id == fresh.id
