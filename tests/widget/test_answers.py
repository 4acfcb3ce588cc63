"""Answers in the widget, through the conversation service (channel "web") with the real openai client
against the fake OpenAI-compatible server: the answer streams (the first words arrive while the model is
still writing), a Q&A pair arrives at once, a retried client message id is stored, answered and charged
once, a zero balance gets the polite notice (never silence), asking for a person waits, and a visitor gone
before the final event is not charged."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from chatai.conversation import charging
from chatai.db.models import MICRO, Dialog, Message
from chatai.db.money_models import Charge, Price
from chatai.db.session import async_session
from chatai.rag.worker import process_pending
from chatai.services import billing, handoff, knowledge
from tests.fakes import openai_server
from tests.fakes.openai_server import ScriptedReply, structured
from tests.waits import PATIENCE
from tests.widget.conftest import open_stream, start_session

fake_openai = openai_server.fake_openai
FAQ = "# Shipping\n\nWe ship orders worldwide with DHL. Delivery takes three to five working days in Europe.\n"
ANSWER = "We ship with DHL: three to five working days in Europe."


@pytest.fixture
async def shop(tenant, fake_openai, monkeypatch):
    """The tenant's assistant knows its shipping, answers are priced 5 and the owner holds 100."""
    await _stock(tenant, monkeypatch)
    fake_openai.reply = lambda body: structured(ANSWER)
    return tenant


async def _stock(tenant, monkeypatch) -> None:
    monkeypatch.setattr(charging, "_prices", {})
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename="faq.md", data=FAQ.encode())
        s.add_all([Price(item="answer", price_micros=5 * MICRO), Price(item="qa_answer", price_micros=5 * MICRO)])
        await billing.ensure_account(s, user_id=tenant.owner_id)
        await billing.credit(s, account_id=tenant.owner_id, amount_micros=100 * MICRO, kind="adjustment",
                             key=f"test:{tenant.owner_id}", reason="test balance")
        await s.commit()
    await process_pending()


async def _visitor(client, tenant) -> dict:
    return (await start_session(client, tenant.assistant_id, new=True)).json()


def _message_path(tenant) -> str:
    return f"/widget/api/{tenant.assistant_id}/messages"


async def _ask(tenant, visitor, text, client_id=None):
    """Send; the conversation the message went to (the one its first message started) becomes the visitor's."""
    body = {"text": text, "client_message_id": client_id or uuid.uuid4().hex, "dialog": visitor["dialog"]}
    async with open_stream("POST", _message_path(tenant), token=visitor["token"], body=body) as stream:
        events = await stream.rest()
    visitor["dialog"] = next((data["dialog"] for name, data in events if name == "accepted"), visitor["dialog"])
    return stream.status, events


async def _charges() -> list[tuple[str, int]]:
    async with async_session() as s:
        return [(c.status, c.amount_micros) for c in (await s.execute(sa.select(Charge))).scalars()]


async def _roles(dialog_id) -> list[str]:
    async with async_session() as s:
        return list((await s.execute(sa.select(Message.role).where(Message.dialog_id == uuid.UUID(dialog_id))
                                     .order_by(Message.created_at))).scalars())


async def test_the_answer_streams_before_it_is_complete_and_is_charged_once_delivered(shop, client, fake_openai):
    fake_openai.script(ScriptedReply(structured(ANSWER), hold_after=12))  # the model stalls mid-answer
    visitor = await _visitor(client, shop)
    body = {"text": "How long does shipping take?", "client_message_id": uuid.uuid4().hex,
            "dialog": visitor["dialog"]}
    async with open_stream("POST", _message_path(shop), token=visitor["token"], body=body) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        _, accepted = await stream.next_event("accepted")
        assert accepted["message"]["text"] == "How long does shipping take?"
        visitor["dialog"] = accepted["dialog"]
        _, first = await stream.next_event("delta")
        assert await asyncio.to_thread(fake_openai.holding.wait, PATIENCE)
        assert first["text"] and first["text"] in ANSWER  # the first words, while the model is still writing
        fake_openai.release.set()
        _, final = await stream.next_event("final")
        await stream.rest()  # the response ends once the answer is settled (leaving earlier races the charge)
    assert final["message"]["text"] == ANSWER
    assert final["message"]["sources"] == ["faq.md · Shipping"]
    assert await _roles(visitor["dialog"]) == ["user", "assistant"]
    assert await _charges() == [("committed", 5 * MICRO)]


async def test_a_qa_answer_arrives_at_once(shop, client, fake_openai):
    async with async_session() as s:
        await knowledge.add_qa_pair(s, owner_id=shop.owner_id, assistant_id=shop.assistant_id,
                               question="Do you have a gift wrap?", answer="Yes, gift wrap is free.")
    visitor = await _visitor(client, shop)
    status, events = await _ask(shop, visitor, "Do you have a gift wrap?")
    assert status == 200
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert deltas == ["Yes, gift wrap is free."]  # whole, not word by word
    assert events[-1][0] == "final" and events[-1][1]["message"]["text"] == "Yes, gift wrap is free."
    assert fake_openai.chat_requests() == []


async def test_a_quoted_answer_without_an_llm_arrives_at_once(tenant, client, monkeypatch):
    await _stock(tenant, monkeypatch)  # no fake_openai: no LLM configured, the answer quotes the knowledge
    visitor = await _visitor(client, tenant)
    status, events = await _ask(tenant, visitor, "How long does delivery take in Europe?")
    assert status == 200
    final = events[-1][1]["message"]
    assert events[-1][0] == "final" and "three to five working days" in final["text"]
    assert [data["text"] for name, data in events if name == "delta"] == [final["text"]]  # whole, not word by word
    async with async_session() as s:
        answered_by = (await s.execute(sa.select(Message.answered_by).where(Message.role == "assistant"))).scalar_one()
    assert answered_by == "extractive"


async def test_a_retried_client_message_id_is_stored_answered_and_charged_once(shop, client):
    visitor = await _visitor(client, shop)
    status, events = await _ask(shop, visitor, "How long does shipping take?", client_id="retry-after-drop-1")
    assert [name for name, _ in events][-1] == "final"
    again = await client.post(_message_path(shop), headers={"Authorization": f"Bearer {visitor['token']}"},
                              json={"text": "How long does shipping take?", "client_message_id": "retry-after-drop-1",
                                    "dialog": visitor["dialog"]})
    assert again.json() == {"duplicate": True, "dialog": visitor["dialog"]}
    assert await _roles(visitor["dialog"]) == ["user", "assistant"]
    assert await _charges() == [("committed", 5 * MICRO)]
    # A reload shows the answer the retry did not wait for, with the id the panel matches its message by.
    reloaded = (await start_session(client, shop.assistant_id, token=visitor["token"])).json()
    assert [(m["role"], m.get("client_id")) for m in reloaded["messages"]] == [("user", "retry-after-drop-1"),
                                                                               ("assistant", None)]


async def test_a_zero_balance_gets_the_polite_notice_and_waits_for_a_person(shop, client, fake_openai):
    async with async_session() as s:
        await billing.adjust(s, account_id=shop.owner_id, amount_micros=-100 * MICRO, reason="empty it",
                             actor_id=None)
        await s.commit()
    visitor = await _visitor(client, shop)
    _, events = await _ask(shop, visitor, "How long does shipping take?")
    assert events[-1][0] == "final"
    assert events[-1][1]["message"]["text"] == charging.ZERO_BALANCE_TEXT["en"]
    assert fake_openai.chat_requests() == []
    async with async_session() as s:
        assert (await s.get(Dialog, uuid.UUID(visitor["dialog"]))).status == "waiting"
    assert [status for status, _ in await _charges()] in ([], ["released"])


async def test_talk_to_a_person_waits_without_asking_the_model(shop, client, fake_openai):
    visitor = await _visitor(client, shop)
    _, events = await _ask(shop, visitor, "Talk to a person")  # the panel's button sends this
    assert events[-1][1]["message"]["text"] == handoff.end_user_text("waiting", "en")
    assert fake_openai.chat_requests() == []
    async with async_session() as s:
        assert (await s.get(Dialog, uuid.UUID(visitor["dialog"]))).status == "waiting"
    assert await _charges() == []


async def test_a_visitor_gone_before_the_final_event_is_not_charged(shop, client, fake_openai):
    fake_openai.script(ScriptedReply(structured(ANSWER), hold_after=12))
    visitor = await _visitor(client, shop)
    body = {"text": "How long does shipping take?", "client_message_id": uuid.uuid4().hex,
            "dialog": visitor["dialog"]}
    async with open_stream("POST", _message_path(shop), token=visitor["token"], body=body) as stream:
        visitor["dialog"] = (await stream.next_event("accepted"))[1]["dialog"]
        await stream.next_event("delta")
    # The tab closed mid-answer; the model finishes, the answer is stored for the next visit, never charged.
    fake_openai.release.set()
    for _ in range(int(PATIENCE * 10)):
        if [status for status, _ in await _charges()] == ["released"]:
            break
        await asyncio.sleep(0.1)
    assert [status for status, _ in await _charges()] == ["released"]
    assert await _roles(visitor["dialog"]) == ["user", "assistant"]


async def test_the_web_dialog_is_the_owners_and_named_by_its_site(shop, client):
    visitor = await _visitor(client, shop)
    await _ask(shop, visitor, "How long does shipping take?")
    async with async_session() as s:
        dialog = await s.get(Dialog, uuid.UUID(visitor["dialog"]))
    assert (dialog.channel, dialog.owner_id, dialog.user_name) == ("web", shop.owner_id, "shop.example.com")
