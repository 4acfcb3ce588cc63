"""The assistant setting "How sure before answering" (issue 20): saved from the edit dialog through the
owner-checked service, shown again when the dialog reopens, refused with a sentence when it is not one of
the three, and never written to another owner's assistant."""

from __future__ import annotations

import pytest

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Assistant
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.web.i18n import text
from chatai.web.pages.assistants import AssistantsState, _edit_dialog
from tests.factories import make_tenant
from tests.web.clients import signed_in_root


@pytest.fixture
async def editing(db):
    async with async_session() as s:
        token = await accounts.sign_up(s, email="florist@example.com", password="tulips and roses")
    root = await signed_in_root(token)
    state = await root.get_state(AssistantsState)
    await AssistantsState.handle_create_submit.fn(state, {"name": "Flowers"})
    AssistantsState.start_edit.fn(state, state.assistants[0]["id"])
    return state


async def test_a_new_assistant_is_balanced_and_careful_is_saved_and_shown_again(editing):
    assert editing.editing["answer_certainty"] == "balanced"
    await AssistantsState.handle_edit_submit.fn(editing, {**editing.editing, "answer_certainty": "careful"})
    assert editing.error == ""
    await AssistantsState.load_assistants.fn(editing)
    AssistantsState.start_edit.fn(editing, editing.assistants[0]["id"])
    assert editing.editing["answer_certainty"] == "careful"
    async with async_session() as s:
        assert (await s.get(Assistant, editing.assistants[0]["id"])).answer_certainty == "careful"


async def test_a_value_that_is_not_a_setting_is_refused_with_a_sentence(editing):
    await AssistantsState.handle_edit_submit.fn(editing, {**editing.editing, "answer_certainty": "reckless"})
    assert editing.error == text("en", "first_hour_err_certainty")
    await AssistantsState.load_assistants.fn(editing)
    assert editing.assistants[0]["answer_certainty"] == "balanced"


async def test_another_owners_assistant_is_not_found(editing):
    other = await make_tenant("rival@example.com")
    editing.editing = {**editing.editing, "id": str(other.assistant_id)}
    await AssistantsState.handle_edit_submit.fn(editing, {**editing.editing, "answer_certainty": "bold"})
    assert editing.error == text("en", "err_not_found")
    async with async_session() as s:
        assert (await s.get(Assistant, other.assistant_id)).answer_certainty == "balanced"


def test_the_dialog_offers_the_three_settings_in_plain_words():
    rendered = str(_edit_dialog().render())
    for setting in ("careful", "balanced", "bold"):
        assert f"assistant-certainty-{setting}" in rendered
    assert "certainty_label" in rendered and "certainty_help" in rendered
    assert text("ru", "certainty_careful").startswith("Осторожно") and text("en", "certainty_bold").startswith("Bold")
