"""The structured LLM answer against the fake OpenAI-compatible server with scripted replies: the outcome
(answer / don't know / quotes instead) follows the verdict and the citations, and the answer text streams
while the JSON arrives."""

from __future__ import annotations

import json
import re

import pytest

from chatai.db.session import async_session
from chatai.rag import llm_answer
from chatai.rag.answer import TEXTS, Answer, stream_answer
from chatai.rag.worker import process_pending
from chatai.services import knowledge
from tests.fakes.openai_server import ScriptedReply, structured

FAQ = """# Shipping

We ship orders worldwide with DHL. Delivery takes three to five working days in Europe.

# Returns

You can return any item within 30 days for a full refund. Keep the receipt.

# Opening hours

The shop is open from 9:00 to 19:00, Monday to Saturday.
"""
DONT_KNOW = TEXTS["en"]["dont_know"]  # the channel adds "a person will answer" when it hands off


@pytest.fixture
async def shop(tenant, fake_openai):
    async with async_session() as s:
        await knowledge.upload_document(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                        filename="faq.md", data=FAQ.encode())
    await process_pending()
    return tenant


def passage_number(body: dict, section: str) -> int:
    """The number the product gave the passage of that section in its prompt ("[n] faq.md / Section")."""
    system = body["messages"][0]["content"]
    return int(re.search(rf"^\[(\d+)\] faq\.md / {section}$", system, re.M).group(1))


def passages_given(body: dict) -> int:
    return len(re.findall(r"^\[\d+\] ", body["messages"][0]["content"], re.M))


async def ask(tenant, question: str) -> tuple[list[str], Answer]:
    items = [i async for i in stream_answer(assistant_id=tenant.assistant_id, question=question)]
    assert all(isinstance(i, str) for i in items[:-1]) and isinstance(items[-1], Answer)
    return items[:-1], items[-1]


async def test_a_cited_answer_streams_and_lists_only_the_cited_passage(shop, fake_openai):
    fake_openai.reply = lambda body: structured("We ship with DHL, in three to five working days.",
                                                passages=[passage_number(body, "Shipping")])
    deltas, answer = await ask(shop, "How do you ship and how long does it take?")
    assert (answer.answered_by, answer.outcome, answer.needs_handoff) == ("llm", "answer", False)
    assert "".join(deltas) == answer.text == "We ship with DHL, in three to five working days."
    assert len(deltas) > 3  # word by word, as the fake streams it
    assert [s.section for s in answer.sources] == ["Shipping"]
    body = fake_openai.chat_requests()[0]["body"]
    assert body["response_format"]["json_schema"]["schema"]["required"] == [
        "answer_in_passages", "passages_used", "answer"]
    assert '"answer_in_passages"' in body["messages"][0]["content"]  # servers ignoring the schema are told too


async def test_not_in_the_passages_is_dont_know_with_handoff_and_streams_nothing(shop, fake_openai):
    fake_openai.script(structured("", passages=[], in_passages=False))
    deltas, answer = await ask(shop, "Do you ship orders to Mars with DHL?")
    assert len(fake_openai.chat_requests()) == 1  # retrieval found passages: the model said they do not answer
    assert (answer.answered_by, answer.outcome, answer.needs_handoff) == ("fallback", "dont_know", True)
    assert answer.text == DONT_KNOW and answer.sources == [] and answer.confidence == 0.0
    assert deltas == [DONT_KNOW]  # no model text reached the user, only the notice
    assert answer.completion_tokens > 0  # the call's cost is still recorded (the owner is not charged)


async def test_an_answer_written_before_a_negative_verdict_is_replaced_by_dont_know(shop, fake_openai):
    fake_openai.script(json.dumps({"answer": "Yes, every Sunday.", "passages_used": [1],
                                   "answer_in_passages": False}))
    deltas, answer = await ask(shop, "Do you ship orders to Mars with DHL?")
    assert "".join(deltas[:-1]) == "Yes, every Sunday."  # streamed before the verdict came...
    assert deltas[-1] == DONT_KNOW
    assert answer.outcome == "dont_know" and answer.text == DONT_KNOW  # ...the final Answer says otherwise


@pytest.mark.parametrize(("reply", "reason"), [
    (structured("Delivery is free.", passages=[]), "no citation"),
    (structured("Delivery is free.", passages=[1, 42]), "a passage that was not given"),
    (structured("Delivery is free.", passages=[0]), "passage 0"),
    (structured("   ", passages=[1]), "an empty answer"),
    (ScriptedReply(refusal="I can't help with that."), "a refusal"),
])
async def test_unsure_replies_are_dont_know(shop, fake_openai, reply, reason):
    fake_openai.script(reply)
    _deltas, answer = await ask(shop, "How long does delivery take?")
    assert (answer.outcome, answer.answered_by, answer.needs_handoff) == ("dont_know", "fallback", True), reason
    assert passages_given(fake_openai.chat_requests()[0]["body"]) < 42


@pytest.mark.parametrize("reply", [
    "Delivery takes three to five working days.",  # prose: a server that ignores response_format
    '{"answer_in_passages": true, "passages_used": [1], "answer": "Delivery takes thr',  # cut off
    '{"answer_in_passages": "yes", "passages_used": [1], "answer": "Three to five days."}',  # mistyped
    '{"answer_in_passages": true, "answer": "Three to five days."}',  # a key missing
    '{"answer_in_passages": true, "passages_used": [1] "answer": "Three to five days."}',  # no comma
])
async def test_malformed_replies_fall_back_to_quotes(shop, fake_openai, reply):
    fake_openai.script(reply)
    _deltas, answer = await ask(shop, "How long does delivery take?")
    assert (answer.answered_by, answer.outcome) == ("extractive", "answer")
    assert "> Delivery takes three to five working days in Europe." in answer.text


async def test_text_streams_before_the_reply_ends(shop, fake_openai):
    reply = structured("Delivery takes three to five working days in Europe.", passages=[1])
    fake_openai.script(ScriptedReply(content=reply, hold_after=7))  # the fake stops after 7 pieces...
    seen_while_holding: list[bool] = []
    items = []
    async for item in stream_answer(assistant_id=shop.assistant_id, question="How long does delivery take?"):
        if isinstance(item, str) and not seen_while_holding:
            seen_while_holding.append(fake_openai.holding.is_set())
            fake_openai.release.set()  # ...until the first text has reached the caller
        items.append(item)
    assert seen_while_holding == [True]
    assert items[-1].answered_by == "llm" and "".join(items[:-1]) == items[-1].text


async def test_a_stall_mid_stream_falls_back_to_quotes(shop, fake_openai, monkeypatch):
    monkeypatch.setattr(llm_answer, "READ_TIMEOUT_SECONDS", 0.5)
    reply = structured("Delivery takes three to five working days.", passages=[1])
    fake_openai.script(ScriptedReply(content=reply, hold_after=7))  # never released: the server stalls
    deltas, answer = await ask(shop, "How long does delivery take?")
    assert deltas[0] == "Delivery "  # the model's text had started to stream...
    assert answer.answered_by == "extractive"  # ...then the quotes replace it
    assert "> Delivery takes three to five working days in Europe." in answer.text
    assert deltas[-1] == answer.text


async def test_an_outage_falls_back_to_quotes(shop, fake_openai):
    fake_openai.fail_chat = True
    _deltas, answer = await ask(shop, "When is the shop open?")
    assert answer.answered_by == "extractive" and "9:00 to 19:00" in answer.text


async def test_a_server_refusing_response_format_is_asked_again_without_it(shop, fake_openai):
    fake_openai.refuse_response_format = True  # the prompt still asks for the JSON object, and gets it
    fake_openai.reply = lambda body: structured("Delivery takes three to five working days.", passages=[1])
    for _ in range(2):
        _deltas, answer = await ask(shop, "How long does delivery take?")
        assert (answer.answered_by, answer.outcome) == ("llm", "answer")
    asked = [("response_format" in r["body"]) for r in fake_openai.chat_requests()]
    assert asked == [True, False, False]  # refused once, then remembered for the model
