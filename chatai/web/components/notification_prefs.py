"""The settings page's "Email notifications" card: one switch per alert kind (services/notifications.py)."""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services import mail, notifications
from chatai.web.components.layout import card, t
from chatai.web.state.auth import require_user


class NotificationPrefsState(rx.State):
    prefs: dict[str, bool] = {}
    mail_off: bool = False

    @rx.event
    async def load_notification_prefs(self):
        user = await require_user(self)
        if user is None:
            self.prefs = {}
            return
        self.mail_off = not mail.mail_enabled()
        async with async_session() as session:
            self.prefs = (await notifications.get_preferences(session, user_id=user.id)).as_dict()

    @rx.event
    async def handle_pref_change(self, kind: str, enabled: bool):
        user = await require_user(self)
        if user is None or kind not in notifications.KINDS:
            return
        async with async_session() as session:
            await notifications.set_preference(session, user_id=user.id, kind=kind, enabled=bool(enabled))
            await session.commit()
            self.prefs = (await notifications.get_preferences(session, user_id=user.id)).as_dict()


def _switch(kind: str) -> rx.Component:
    return rx.hstack(
        rx.switch(checked=NotificationPrefsState.prefs[kind].to(bool), id=f"notify-{kind}",
                  on_change=lambda value: NotificationPrefsState.handle_pref_change(kind, value)),
        rx.text(t(f"mail_pref_{kind}"), size="2", as_="label", html_for=f"notify-{kind}"),
        spacing="3", align="center",
    )


def notification_prefs_card() -> rx.Component:
    return card(rx.vstack(
        rx.heading(t("mail_prefs_title"), size="4"),
        rx.text(t("mail_prefs_subtitle"), size="2", color=rx.color("gray", 11)),
        rx.cond(NotificationPrefsState.mail_off, rx.callout(t("mail_prefs_off"), icon="info", width="100%")),
        *[_switch(kind) for kind in notifications.KINDS],
        spacing="3", width="100%",
        on_mount=NotificationPrefsState.load_notification_prefs,
    ))
