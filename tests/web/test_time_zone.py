"""The business's clock: the browser's zone at sign-up (Moscow for a Russian one that says nothing), a setting
that refuses unknown names, and the sessions list on that clock with the browser named."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import User, UserSession
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.web.components.time_zone_setting import TimeZoneState
from chatai.web.pages.auth import SignUpState
from chatai.web.pages.settings_page import SettingsState
from chatai.web.state.auth import AuthState
from tests.web.clients import signed_in_root

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36")


async def _zone_of(email: str) -> str:
    async with async_session() as s:
        return (await s.execute(select(User.time_zone).where(User.email == email))).scalar_one()


async def _sign_up_in_browser(email: str, locale: str, browser_zone: str) -> None:
    root = await signed_in_root("")
    (await root.get_state(AuthState)).locale = locale
    state = await root.get_state(SignUpState)
    await SignUpState.handle_sign_up_submit.fn(state, {"email": email, "password": "Tulips in May 2031",
                                                       "time_zone": browser_zone})
    assert state.error == ""


async def test_sign_up_takes_the_browsers_zone_or_the_languages_default(db):
    await _sign_up_in_browser("yekaterinburg@example.com", "ru", "Asia/Yekaterinburg")
    await _sign_up_in_browser("moscow@example.com", "ru", "")
    await _sign_up_in_browser("bikes@example.com", "en", "Not/AZone")
    assert await _zone_of("yekaterinburg@example.com") == "Asia/Yekaterinburg"
    assert await _zone_of("moscow@example.com") == "Europe/Moscow"
    assert await _zone_of("bikes@example.com") == "UTC"


async def _owner(email: str = "cafe@example.com", locale: str = "ru") -> str:
    async with async_session() as s:
        return await accounts.sign_up(s, email=email, password="Tulips in May 2031", locale=locale,
                                      client="198.51.100.7", user_agent=CHROME_WINDOWS)


async def test_the_setting_stores_a_known_zone_and_refuses_others_in_words(db):
    token = await _owner()
    root = await signed_in_root(token)
    state = await root.get_state(TimeZoneState)
    await TimeZoneState.load_time_zone.fn(state)
    assert state.time_zone == "Europe/Moscow"
    assert state.zone_note == "Время показано по поясу Europe/Moscow (UTC+03:00)."
    await TimeZoneState.handle_time_zone_submit.fn(state, {"time_zone": "Europe/Moskow"})
    assert state.error.startswith("Выберите часовой пояс из списка") and state.message == ""
    assert await _zone_of("cafe@example.com") == "Europe/Moscow"
    await TimeZoneState.handle_time_zone_submit.fn(state, {"time_zone": " Asia/Novosibirsk "})
    assert state.error == "" and "Asia/Novosibirsk (UTC+07:00)" in state.message
    assert await _zone_of("cafe@example.com") == "Asia/Novosibirsk"


async def test_a_signed_out_tab_cannot_change_a_zone(db):
    await _owner()
    state = await (await signed_in_root("")).get_state(TimeZoneState)
    await TimeZoneState.handle_time_zone_submit.fn(state, {"time_zone": "Asia/Tokyo"})
    assert await _zone_of("cafe@example.com") == "Europe/Moscow"


async def test_sessions_list_names_the_browser_and_uses_the_owners_clock(db):
    token = await _owner()
    async with async_session() as s:
        await s.execute(update(UserSession).values(created_at=datetime(2026, 12, 5, 16, 5, tzinfo=UTC)))
        await s.commit()
    root = await signed_in_root(token)
    state = await root.get_state(SettingsState)
    await SettingsState.load_settings.fn(state)
    [row] = state.sessions
    assert row["device"] == "Chrome, Windows"  # Russian owner: the connective is translated
    assert row["client"] == "198.51.100.7"
    assert row["started"] == "2026-12-05 19:05"  # 16:05 UTC on the Moscow clock
