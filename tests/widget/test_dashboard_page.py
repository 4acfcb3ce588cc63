"""The "Website" page's handlers on a real state tree: the owner saves settings (a bad site is refused
with a sentence), the snippet names the assistant, and another owner can neither read nor change them."""

from __future__ import annotations

import uuid

import pytest

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.session import async_session
from chatai.services import accounts, assistants
from chatai.web.pages.widget import WidgetState
from chatai.widget.models import WidgetSettings
from tests.web.clients import signed_in_root


@pytest.fixture
async def owners(db):
    async with async_session() as s:
        token_a = await accounts.sign_up(s, email="wa@example.com", password="password a")
        token_b = await accounts.sign_up(s, email="wb@example.com", password="password b")
        user_a = await accounts.user_for_token(s, token_a)
        assistant = await assistants.create_assistant(s, owner_id=user_a.id, name="Shop help")
        return {"a": token_a, "b": token_b, "assistant": str(assistant.id)}


async def _page(token: str) -> WidgetState:
    root = await signed_in_root(token)
    state = await root.get_state(WidgetState)
    await WidgetState.load_widget.fn(state)
    return state


async def _stored(assistant_id: str) -> WidgetSettings | None:
    async with async_session() as s:
        return await s.get(WidgetSettings, uuid.UUID(assistant_id))


async def test_owner_saves_sites_and_appearance_and_gets_the_snippet(owners):
    state = await _page(owners["a"])
    assert state.assistant_id == owners["assistant"] and not state.enabled
    assert f'data-chatai-assistant="{owners["assistant"]}"' in state.snippet
    for name, value in (("enabled", True), ("sites", "https://Shop.Example.com/\n*.example.org\n"),
                        ("title", "Shop"), ("accent_color", "#112233"), ("position", "left"), ("language", "ru")):
        WidgetState.set_field.fn(state, name, value)
    await WidgetState.handle_save.fn(state)
    assert state.error == "" and state.notice == "Website chat settings saved."
    stored = await _stored(owners["assistant"])
    assert (stored.enabled, stored.allowed_sites) == (True, ["shop.example.com", "*.example.org"])
    assert (stored.title, stored.accent_color, stored.position, stored.language) == ("Shop", "#112233", "left", "ru")
    assert state.sites == "shop.example.com\n*.example.org"


async def test_a_bad_site_or_colour_is_refused_with_a_sentence(owners):
    state = await _page(owners["a"])
    WidgetState.set_field.fn(state, "sites", "shop.example.com\nnot a host")
    await WidgetState.handle_save.fn(state)
    assert state.error == "“not a host” is not a host name. Write it like shop.example.com."
    WidgetState.set_field.fn(state, "sites", "shop.example.com")
    WidgetState.set_field.fn(state, "accent_color", "red; background:url(x)")
    await WidgetState.handle_save.fn(state)
    assert state.error == "The accent colour must look like #4f46e5."
    assert await _stored(owners["assistant"]) is None


async def test_another_owner_can_neither_read_nor_change_the_widget(owners):
    state = await _page(owners["b"])
    assert state.assistant_options == [] and state.assistant_id == ""
    state.assistant_id = owners["assistant"]  # forced into the state
    WidgetState.set_field.fn(state, "enabled", True)
    WidgetState.set_field.fn(state, "sites", "evil.example.net")
    await WidgetState.handle_save.fn(state)
    assert state.error == "Not found."
    assert await _stored(owners["assistant"]) is None
    await WidgetState.remove_avatar.fn(state)
    assert state.error == "Not found."


async def test_a_signed_out_tab_is_sent_to_sign_in(owners):
    root = await signed_in_root("")
    state = await root.get_state(WidgetState)
    assert "/signin" in repr(await WidgetState.load_widget.fn(state))


async def test_the_avatar_is_checked_by_its_content(owners):
    import sqlalchemy as sa

    from chatai.db.models import User
    from chatai.widget import store

    async with async_session() as s:
        owner = (await s.execute(sa.select(User).where(User.email == "wa@example.com"))).scalar_one()
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        saved = await store.save_avatar(s, owner_id=owner.id, assistant_id=uuid.UUID(owners["assistant"]), data=png)
        assert saved.avatar_type == "image/png"
        for bad in (b"<svg onload=alert(1)>", b"GIF89a" + b"\x00" * 10, b"\x89PNG\r\n\x1a\n" + b"\x00" * 300_000):
            with pytest.raises(store.WidgetSettingsError):
                await store.save_avatar(s, owner_id=owner.id, assistant_id=uuid.UUID(owners["assistant"]), data=bad)
