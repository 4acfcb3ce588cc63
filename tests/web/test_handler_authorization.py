"""Every event handler checks who is asking: an owner can neither read nor change another
owner's data through any handler, and a signed-out client gets nothing but a redirect.

Handlers are called directly on a real state tree (as Reflex would), against the real database.
"""

from __future__ import annotations

import uuid

import pytest
from reflex.state import State
from sqlmodel import select

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Assistant, Bot, Document, QAPair, User
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants
from chatai.web.pages.admin import AdminOverviewState
from chatai.web.pages.admin_users import AdminUsersState
from chatai.web.pages.assistants import AssistantsState
from chatai.web.pages.billing import BillingState
from chatai.web.pages.bots import BotsState
from chatai.web.pages.kb_search import KbSearchState
from chatai.web.pages.overview import OverviewState
from chatai.web.state.inbox import InboxState
from chatai.web.state.knowledge import KnowledgeState
from tests.web.clients import signed_in_root


async def _client(token: str = "") -> State:
    return await signed_in_root(token)


async def _is_redirect(result, path: str) -> bool:
    return result is not None and path in repr(result)


@pytest.fixture
async def world(db):
    """Owner A with an assistant, a document, a Q&A pair and a bot; owner B signed in."""
    async with async_session() as s:
        token_a = await accounts.sign_up(s, email="a@example.com", password="password a")
        token_b = await accounts.sign_up(s, email="b@example.com", password="password b")
        user_a = await accounts.user_for_token(s, token_a)
        assistant = await assistants.create_assistant(s, owner_id=user_a.id, name="A's assistant")
        document = Document(assistant_id=assistant.id, filename="secret.txt", content_hash="h" * 64, status="ready")
        pair = QAPair(assistant_id=assistant.id, question="A's question", answer="A's answer")
        bot = Bot(assistant_id=assistant.id, owner_id=user_a.id, telegram_bot_id=42, username="a_bot",
                  token_encrypted=encrypt_secret("42:" + "x" * 35), token_hint="42:…xxxx", status="running")
        s.add_all([document, pair, bot])
        await s.commit()
        return {"token_a": token_a, "token_b": token_b, "assistant": str(assistant.id),
                "document": str(document.id), "qa": str(pair.id), "bot": str(bot.id)}


async def _get(model, id_: str):
    async with async_session() as s:
        return await s.get(model, uuid.UUID(id_))


async def test_assistant_handlers_refuse_another_owners_assistant(world):
    root = await _client(world["token_b"])
    state = await root.get_state(AssistantsState)
    await AssistantsState.load_assistants.fn(state)
    assert state.assistants == []
    state.editing = {"id": world["assistant"]}
    await AssistantsState.handle_edit_submit.fn(state, {"name": "hijacked", "temperature": "0.1", "top_k": "3",
                                                        "score_threshold": "0.2", "qa_direct_threshold": "0.9",
                                                        "handoff_timeout_minutes": "5"})
    assert state.error
    await AssistantsState.delete_assistant.fn(state, world["assistant"])
    assert (await _get(Assistant, world["assistant"])).name == "A's assistant"


async def test_knowledge_handlers_refuse_another_owners_data(world):
    root = await _client(world["token_b"])
    state = await root.get_state(KnowledgeState)
    await KnowledgeState.load_knowledge.fn(state)
    assert state.assistant_id == "" and state.documents == []
    # Choosing A's assistant by id shows nothing and selects nothing.
    await KnowledgeState.select_assistant.fn(state, world["assistant"])
    assert state.assistant_id == "" and state.documents == [] and state.qa_pairs == []
    # Even with the id forced into the state, reads and writes are refused by the services.
    state.assistant_id = world["assistant"]
    search = await root.get_state(KbSearchState)
    await KbSearchState.handle_search_submit.fn(search, {"query": "question"})
    assert search.hits == [] and not search.searched and search.error
    await KnowledgeState.delete_document.fn(state, world["document"])
    await KnowledgeState.reindex_document.fn(state, world["document"])
    await KnowledgeState.delete_qa_pair.fn(state, world["qa"])
    state.qa_edit_id = world["qa"]
    await KnowledgeState.handle_qa_submit.fn(state, {"question": "changed", "answer": "changed"})
    document = await _get(Document, world["document"])
    assert document is not None and document.status == "ready"
    assert (await _get(QAPair, world["qa"])).question == "A's question"


async def test_bot_handlers_refuse_another_owners_bot(world):
    root = await _client(world["token_b"])
    state = await root.get_state(BotsState)
    await BotsState.load_bots.fn(state)
    assert state.bots == []
    await BotsState.pause_bot.fn(state, world["bot"])
    await BotsState.disconnect_bot.fn(state, world["bot"])
    state.replace_id = world["bot"]
    await BotsState.handle_replace_submit.fn(state, {"token": "43:" + "y" * 35})
    bot = await _get(Bot, world["bot"])
    assert bot is not None and bot.desired_state == "running"


async def test_owner_cannot_use_admin_handlers(world):
    root = await _client(world["token_b"])
    users = await root.get_state(AdminUsersState)
    result = await AdminUsersState.load_admin_users.fn(users)
    assert await _is_redirect(result, "/signin") and users.rows == []
    async with async_session() as s:
        user_a = (await s.execute(select(User).where(User.email == "a@example.com"))).scalar_one()
    await AdminUsersState.toggle_block.fn(users, str(user_a.id), True)
    assert not (await _get(User, str(user_a.id))).blocked
    overview = await root.get_state(AdminOverviewState)
    assert await _is_redirect(await AdminOverviewState.load_admin_overview.fn(overview), "/signin")


async def test_admin_can_block_and_the_owner_is_signed_out(world):
    async with async_session() as s:
        await accounts.create_user(s, email="root@example.com", password="admin password", role="admin")
        admin_token = await accounts.sign_in(s, email="root@example.com", password="admin password")
        user_a = (await s.execute(select(User).where(User.email == "a@example.com"))).scalar_one()
    root = await _client(admin_token)
    users = await root.get_state(AdminUsersState)
    await AdminUsersState.load_admin_users.fn(users)
    assert {r["email"] for r in users.rows} >= {"a@example.com", "b@example.com"}
    await AdminUsersState.toggle_block.fn(users, str(user_a.id), True)
    owner = await _client(world["token_a"])
    result = await OverviewState.load_overview.fn(await owner.get_state(OverviewState))
    assert await _is_redirect(result, "/signin")


@pytest.mark.parametrize(("state_cls", "handler"), [
    (OverviewState, "load_overview"), (AssistantsState, "load_assistants"), (KnowledgeState, "load_knowledge"),
    (BotsState, "load_bots"), (AdminUsersState, "load_admin_users"), (AdminOverviewState, "load_admin_overview"),
    (BillingState, "load_billing"), (BillingState, "export_csv"),
    (InboxState, "load_inbox"), (InboxState, "load_more"),
])
async def test_signed_out_client_is_redirected(world, state_cls, handler):
    root = await _client("")
    state = await root.get_state(state_cls)
    result = await getattr(state_cls, handler).fn(state)
    assert await _is_redirect(result, "/signin")


async def test_signed_out_client_cannot_write(world):
    root = await _client("not a session")
    state = await root.get_state(AssistantsState)
    await AssistantsState.delete_assistant.fn(state, world["assistant"])
    await AssistantsState.handle_create_submit.fn(state, {"name": "intruder"})
    async with async_session() as s:
        names = [a.name for a in (await s.execute(select(Assistant))).scalars()]
    assert names == ["A's assistant"]
