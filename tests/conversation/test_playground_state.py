"""The playground tab's handlers on a real state tree: the conversation is kept across a reload, and
another owner's assistant is never reached (handlers called directly, as Reflex would)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Dialog, Message
from chatai.db.session import async_session
from chatai.services import accounts, assistants
from chatai.web.state.knowledge import KnowledgeState
from chatai.web.state.playground import PlaygroundState
from tests.web.clients import signed_in_root


async def _owner(email: str) -> tuple[str, str]:
    async with async_session() as s:
        token = await accounts.sign_up(s, email=email, password=f"{email} long pass phrase 7")
        user = await accounts.user_for_token(s, token)
        assistant = await assistants.create_assistant(s, owner_id=user.id, name="Shop", greeting="Hi there!")
        return token, str(assistant.id)


async def _tab(token: str, assistant_id: str):
    root = await signed_in_root(token)
    knowledge = await root.get_state(KnowledgeState)
    await KnowledgeState.load_knowledge.fn(knowledge)
    knowledge.assistant_id = assistant_id  # as the picker sets it (or a forged id)
    return await root.get_state(PlaygroundState)


async def test_playground_conversation_survives_a_reload(db):
    token, assistant_id = await _owner("a@example.com")
    tab = await _tab(token, assistant_id)
    await PlaygroundState.load_playground.fn(tab)
    assert tab.chat == [] and tab.dialog_id == ""
    await PlaygroundState.handle_chat_submit.fn(tab, {"message": "/start"})  # the greeting: no model needed
    assert [(m["role"], m["text"]) for m in tab.chat] == [("user", "/start"), ("assistant", "Hi there!")]
    assert not tab.chat_busy

    reloaded = await _tab(token, assistant_id)
    await PlaygroundState.load_playground.fn(reloaded)
    assert reloaded.chat == tab.chat and reloaded.dialog_id == tab.dialog_id

    await PlaygroundState.new_conversation.fn(reloaded)
    assert reloaded.chat == [] and reloaded.dialog_id not in ("", tab.dialog_id)


async def test_playground_refuses_another_owners_assistant(db):
    _token_a, assistant_a = await _owner("a@example.com")
    token_b, _assistant_b = await _owner("b@example.com")
    tab = await _tab(token_b, assistant_a)
    await PlaygroundState.handle_chat_submit.fn(tab, {"message": "What is A's secret?"})
    await PlaygroundState.new_conversation.fn(tab)
    await PlaygroundState.load_playground.fn(tab)
    assert tab.dialog_id == "" and tab.chat == []
    async with async_session() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(Dialog))).scalar() == 0
        assert (await s.execute(sa.select(sa.func.count()).select_from(Message))).scalar() == 0


async def test_an_operator_reply_from_the_inbox_reaches_the_playground_live(db):
    from chatai.services import handoff

    token, assistant_id = await _owner("a@example.com")
    tab = await _tab(token, assistant_id)
    await PlaygroundState.handle_chat_submit.fn(tab, {"message": "I want to talk to a person"})
    assert tab.waiting and tab.chat[-1]["text"] == handoff.end_user_text("waiting", "en")
    dialog_id = uuid.UUID(tab.dialog_id)
    async with async_session() as s:
        owner_id = (await s.get(Dialog, dialog_id)).owner_id
    async with async_session() as s:
        await handoff.take_over(s, owner_id=owner_id, dialog_id=dialog_id, operator_id=owner_id)
    async with async_session() as s:
        await handoff.send_operator_message(s, owner_id=owner_id, dialog_id=dialog_id, operator_id=owner_id,
                                            text="Hi, Anna here")
    # Another owner's event, or another dialog's, changes nothing; this dialog's shows the reply.
    await tab.refresh_live(uuid.uuid4(), {dialog_id})
    await tab.refresh_live(owner_id, {uuid.uuid4()})
    assert all(m["text"] != "Hi, Anna here" for m in tab.chat)
    await tab.refresh_live(owner_id, {dialog_id})
    assert tab.chat[-1] == {"role": "operator", "text": "Hi, Anna here", "meta": "", "sources": ""}
    assert tab.chat[-2]["role"] == "system" and tab.waiting
