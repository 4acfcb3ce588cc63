"""The settings page's "Time zone" card: the signed-in person's own clock (services/account_clock.py), whatever
business they work in, so every time shown to them is on it (a personal setting: no role needed). A typed name is
checked against the zones this machine knows; the list under the field offers them all."""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import time_zone_names, zone_label
from chatai.services import account_clock
from chatai.web.components.layout import card, error_callout, success_callout, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_user


class TimeZoneState(rx.State):
    time_zone: str = ""
    zone_note: str = ""
    error: str = ""
    message: str = ""

    @rx.event
    async def load_time_zone(self):
        user = await require_user(self)
        if user is None:
            return
        locale = (await self.get_state(AuthState)).locale
        self.error = self.message = ""
        self.time_zone = user.time_zone
        self.zone_note = text(locale, "clock_now", zone=zone_label(user.time_zone))

    @rx.event
    async def handle_time_zone_submit(self, form: dict):
        user = await require_user(self)
        if user is None:
            return
        locale = (await self.get_state(AuthState)).locale
        self.error = self.message = ""
        try:
            async with async_session() as session:
                name = await account_clock.set_time_zone(session, user_id=user.id,
                                                         time_zone=str(form.get("time_zone", ""))[:64])
        except account_clock.TimeZoneError:
            self.error = text(locale, "err_time_zone")
            return
        self.time_zone = name
        self.zone_note = text(locale, "clock_now", zone=zone_label(name))
        self.message = text(locale, "clock_saved", zone=zone_label(name))


def time_zone_card() -> rx.Component:
    s = TimeZoneState
    return card(rx.form(rx.vstack(
        rx.heading(t("clock_title"), size="4"),
        rx.text(t("clock_subtitle"), size="2", color=rx.color("gray", 11)),
        rx.text(s.zone_note, size="2", id="time-zone-now"),
        error_callout(s.error, id="time-zone-error"),
        success_callout(s.message),
        rx.text(t("clock_field"), as_="label", size="2", weight="medium", html_for="time-zone"),
        rx.hstack(
            rx.input(name="time_zone", id="time-zone", default_value=s.time_zone, key=s.time_zone,
                     list="time-zone-names", max_length=64, width="260px"),
            rx.button(t("save"), type="submit", id="time-zone-save"),
            wrap="wrap", spacing="2",
        ),
        rx.el.datalist(*[rx.el.option(value=name) for name in time_zone_names()], id="time-zone-names"),
        spacing="2", width="100%",
    ), on_submit=TimeZoneState.handle_time_zone_submit, reset_on_submit=False),
        on_mount=TimeZoneState.load_time_zone)
