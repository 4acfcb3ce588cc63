"""Settings page: the account's sessions (this device marked by token hash), revoke, sign out
everywhere, last-seen throttling, and the password strength hint. Handlers run on a real state tree."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import UserSession, utcnow
from chatai.db.session import async_session
from chatai.security import token_hash
from chatai.services import accounts
from chatai.web.pages.auth import PasswordStrengthState
from chatai.web.pages.settings_page import SettingsState
from tests.web.clients import signed_in_root


async def _sign_up(email: str, client: str = "") -> str:
    async with async_session() as s:
        return await accounts.sign_up(s, email=email, password="password a", client=client)


async def _sign_in(email: str, client: str) -> str:
    async with async_session() as s:
        return await accounts.sign_in(s, email=email, password="password a", client=client)


async def _alive(token: str) -> bool:
    async with async_session() as s:
        return await accounts.user_for_token(s, token) is not None


@pytest.fixture
async def two_browsers(db):
    here = await _sign_up("a@example.com", client="192.0.2.1")
    there = await _sign_in("a@example.com", client="198.51.100.2")
    stranger = await _sign_up("b@example.com", client="203.0.113.3")
    return here, there, stranger


async def _settings(token: str) -> SettingsState:
    root = await signed_in_root(token)
    state = await root.get_state(SettingsState)
    await SettingsState.load_settings.fn(state)
    return state


async def test_sessions_list_marks_this_device_and_shows_no_tokens(two_browsers):
    here, there, stranger = two_browsers
    state = await _settings(here)
    rows = {r["client"]: r for r in state.sessions}
    assert set(rows) == {"192.0.2.1", "198.51.100.2"}  # never the other account's session
    assert rows["192.0.2.1"]["current"] == "1" and rows["198.51.100.2"]["current"] == ""
    shown = repr(state.sessions)
    for token in (here, there):
        assert token not in shown and token_hash(token) not in shown


async def test_revoke_ends_the_other_session_only(two_browsers):
    here, there, _ = two_browsers
    state = await _settings(here)
    other = next(r["id"] for r in state.sessions if not r["current"])
    await SettingsState.revoke_session.fn(state, other)
    assert not await _alive(there) and await _alive(here)
    assert [r["client"] for r in state.sessions] == ["192.0.2.1"]


async def test_cannot_revoke_someone_elses_session(two_browsers):
    here, _, stranger = two_browsers
    async with async_session() as s:
        victim_id = (await s.execute(select(UserSession.id).where(
            UserSession.token_hash == token_hash(stranger)))).scalar_one()
    state = await _settings(here)
    await SettingsState.revoke_session.fn(state, str(victim_id))
    assert await _alive(stranger)
    assert state.sessions_message == "Not found."
    await SettingsState.revoke_session.fn(state, "not-a-uuid")
    assert await _alive(stranger) and await _alive(here)


async def test_signed_out_client_cannot_revoke(two_browsers):
    _, there, _ = two_browsers
    async with async_session() as s:
        target = (await s.execute(select(UserSession.id).where(
            UserSession.token_hash == token_hash(there)))).scalar_one()
    root = await signed_in_root("")
    state = await root.get_state(SettingsState)
    result = await SettingsState.revoke_session.fn(state, str(target))
    assert "/signin" in repr(result) and await _alive(there)
    assert "/signin" in repr(await SettingsState.sign_out_everywhere.fn(state))


async def test_sign_out_everywhere(two_browsers):
    here, there, stranger = two_browsers
    state = await _settings(here)
    result = await SettingsState.sign_out_everywhere.fn(state)
    assert "/auth/signout" in repr(result)
    assert not await _alive(here) and not await _alive(there)
    assert await _alive(stranger)


async def test_last_seen_is_written_at_most_once_a_minute(db):
    token = await _sign_up("a@example.com")
    old = utcnow() - timedelta(minutes=5)
    async with async_session() as s:
        await s.execute(update(UserSession).values(last_seen_at=old))
        await s.commit()
    assert await _alive(token)
    async with async_session() as s:
        first = (await s.execute(select(UserSession.last_seen_at))).scalar_one()
    assert first > old + timedelta(minutes=4)
    assert await _alive(token)  # within the minute: no write
    async with async_session() as s:
        assert (await s.execute(select(UserSession.last_seen_at))).scalar_one() == first


async def test_strength_hint_keeps_only_the_level(db):
    root = await signed_in_root("")
    state = await root.get_state(PasswordStrengthState)
    PasswordStrengthState.handle_password_typed.fn(state, "qwertyuiop")
    assert state.strength == "weak"
    PasswordStrengthState.handle_password_typed.fn(state, "Tulips in May 2031")
    assert state.strength == "strong"
    assert "Tulips" not in repr(state.dict())


async def test_revoke_uses_a_real_uuid_not_a_guess(two_browsers):
    here, there, _ = two_browsers
    state = await _settings(here)
    await SettingsState.revoke_session.fn(state, str(uuid.uuid4()))
    assert await _alive(there)


async def test_the_settings_page_does_not_rate_the_password_typed_at_sign_up(two_browsers):
    """The hint is shared with the sign-up page: it must not say "strong" under the empty new-password field."""
    here, _, _ = two_browsers
    root = await signed_in_root(here)
    strength = await root.get_state(PasswordStrengthState)
    PasswordStrengthState.handle_password_typed.fn(strength, "Tulips in May 2031")  # typed while signing up
    await SettingsState.load_settings.fn(await root.get_state(SettingsState))
    assert strength.strength == ""
