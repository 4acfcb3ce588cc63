"""The assistant dialog's answer-style presets never overwrite what the owner typed under "Advanced"."""

from __future__ import annotations

import pytest

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.web.pages.assistants import CUSTOM, STYLE_PRESETS, AssistantsState
from tests.web.clients import signed_in_root


@pytest.fixture
async def editing(db):
    """An owner's tab with the edit dialog open on a new (balanced) assistant."""
    async with async_session() as s:
        token = await accounts.sign_up(s, email="baker@example.com", password="sourdough loaves")
    root = await signed_in_root(token)
    state = await root.get_state(AssistantsState)
    await AssistantsState.handle_create_submit.fn(state, {"name": "Bread"})
    AssistantsState.start_edit.fn(state, state.assistants[0]["id"])
    assert state.editing["style"] == "balanced"
    return state


async def _stored(state) -> dict[str, str]:
    await AssistantsState.load_assistants.fn(state)
    return state.assistants[0]


@pytest.mark.parametrize("field", ["temperature", "score_threshold", "top_k", "qa_direct_threshold",
                                   "handoff_timeout_minutes", "model"])
async def test_editing_any_advanced_field_switches_the_style_to_custom(editing, field):
    AssistantsState.edit_advanced.fn(editing, field, "0.9")
    assert editing.editing["style"] == CUSTOM
    assert editing.editing[field] == "0.9"


async def test_choosing_a_preset_shows_its_values_in_the_advanced_fields(editing):
    AssistantsState.edit_advanced.fn(editing, "temperature", "1.3")
    AssistantsState.choose_style.fn(editing, "strict")
    assert editing.editing["style"] == "strict"
    assert editing.editing["temperature"] == str(STYLE_PRESETS["strict"]["temperature"])
    assert editing.editing["score_threshold"] == str(STYLE_PRESETS["strict"]["score_threshold"])


async def test_typed_advanced_values_are_saved_and_reopen_as_custom(editing):
    AssistantsState.edit_advanced.fn(editing, "temperature", "0.9")
    await AssistantsState.handle_edit_submit.fn(editing, dict(editing.editing))
    assert editing.error == ""
    row = await _stored(editing)
    assert (row["temperature"], row["style"]) == ("0.9", CUSTOM)
    AssistantsState.start_edit.fn(editing, row["id"])
    assert editing.editing["style"] == CUSTOM


async def test_a_preset_named_by_a_form_read_before_the_switch_does_not_discard_typed_values(editing):
    """The owner typed 0.9 and pressed Save at once: the form still named "balanced" when it was read."""
    form = {**editing.editing, "style": "balanced", "temperature": "0.9"}
    await AssistantsState.handle_edit_submit.fn(editing, form)
    row = await _stored(editing)
    assert (row["temperature"], row["style"]) == ("0.9", CUSTOM)


async def test_a_preset_chosen_just_before_saving_applies_over_untouched_fields(editing):
    """The owner picked "creative" and pressed Save before the fields showed its values."""
    form = {**editing.editing, "style": "creative"}  # the fields still hold the saved (balanced) values
    await AssistantsState.handle_edit_submit.fn(editing, form)
    row = await _stored(editing)
    assert row["style"] == "creative"
    assert float(row["temperature"]) == STYLE_PRESETS["creative"]["temperature"]


async def test_the_group_chats_switch_is_saved_off_by_default_and_on_when_checked(editing):
    from chatai.web.i18n import text

    assert editing.editing["answer_in_groups"] == ""  # a new assistant: private chats only
    form = {key: editing.editing[key] for key in ("name", "system_prompt", "greeting", "language", "model",
                                                   "temperature", "top_k", "score_threshold", "qa_direct_threshold",
                                                   "handoff_timeout_minutes")}
    await AssistantsState.handle_edit_submit.fn(editing, {**form, "enabled": "on", "answer_in_groups": "on"})
    assert editing.error == "" and (await _stored(editing))["answer_in_groups"] == "1"
    AssistantsState.start_edit.fn(editing, editing.assistants[0]["id"])
    await AssistantsState.handle_edit_submit.fn(editing, {**form, "enabled": "on"})  # unchecked: not submitted
    assert (await _stored(editing))["answer_in_groups"] == ""
    assert text("ru", "group_chats_answer") == "Отвечать в групповых чатах Telegram"
    assert text("en", "group_chats_help").startswith("Off: the bot answers private chats only.")
