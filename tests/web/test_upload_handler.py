"""The knowledge page's upload handler as it runs with several web workers: it acts as the upload request's
own session (never the tab's socket session, which the worker running it may not know), and it chains no
event (a chained event would run on the upload's worker, where the tab's session is unknown); the tab starts
its progress poll itself when `uploads_done` changes."""

from __future__ import annotations

import io

import pytest
from reflex.istate.data import SessionData
from sqlalchemy import select

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Document
from chatai.db.session import async_session
from chatai.services import accounts, assistants
from chatai.web import session_cookie
from chatai.web.state.auth import AuthState
from chatai.web.state.knowledge import KnowledgeState
from tests.web.clients import signed_in_root


class _File:
    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._data = io.BytesIO(data)

    async def read(self) -> bytes:
        return self._data.read()


@pytest.fixture
async def tab_elsewhere(db):
    """A signed-in owner's knowledge tab, as a worker WITHOUT its socket sees it: no session for its sid."""
    async with async_session() as s:
        token = await accounts.sign_up(s, email="baker@example.com", password="sourdough starter 77")
        user = await accounts.user_for_token(s, token)
        assistant = await assistants.create_assistant(s, owner_id=user.id, name="Bakery")
    root = await signed_in_root("")
    auth = await root.get_state(AuthState)
    auth.rx_router_session = SessionData(session_id="socket-on-another-worker", client_token="tab-9")
    auth.user_email = "baker@example.com"
    state = await root.get_state(KnowledgeState)
    state.assistant_id = str(assistant.id)
    return {"token": token, "state": state, "auth": auth}


async def _run(state: KnowledgeState, files: list) -> list:
    return [event async for event in KnowledgeState.handle_upload.fn(state, files)]


async def test_upload_acts_as_the_request_session_and_chains_nothing(tab_elsewhere):
    state = tab_elsewhere["state"]
    with session_cookie.upload_session("tab-9", tab_elsewhere["token"]):
        chained = await _run(state, [_File("hours.txt", b"We bake from seven to three.")])
    assert [e for e in chained if e is not None] == []  # nothing runs after it on this worker
    assert state.uploads_done == 1 and not state.uploading and state.upload_errors == []
    assert [d["filename"] for d in state.documents] == ["hours.txt"]
    assert tab_elsewhere["auth"].user_email == "baker@example.com"  # the tab was not signed out
    async with async_session() as s:
        assert (await s.execute(select(Document.filename))).scalars().all() == ["hours.txt"]


async def test_upload_without_its_request_session_stores_nothing_and_says_why(tab_elsewhere):
    state = tab_elsewhere["state"]
    await _run(state, [_File("hours.txt", b"We bake from seven to three.")])
    assert state.upload_errors == ["Your session has ended, so the files were not uploaded. Sign in again and "
                                   "upload them."]
    assert state.uploads_done == 0 and tab_elsewhere["auth"].user_email == "baker@example.com"
    async with async_session() as s:
        assert (await s.execute(select(Document.id))).scalars().all() == []
