"""The "confirm your email" banner above every dashboard page, with a rate-limited "send again".

Its own tiny state, loaded when the page mounts (like the balance banner): the address can be confirmed in
another tab, and the banner should go as soon as the next page opens.
"""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services import mailed_links
from chatai.services.accounts import AccountError
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_user


class EmailBannerState(rx.State):
    unverified: bool = False
    message: str = ""
    result: str = ""

    @rx.event
    async def load_email_banner(self):
        user = await require_user(self)
        self.unverified = user is not None and not user.email_verified
        if self.unverified:
            self.message = text((await self.get_state(AuthState)).locale, "mail_verify_banner", email=user.email)

    @rx.event
    async def handle_resend_click(self):
        user = await require_user(self)
        if user is None:
            return
        locale = (await self.get_state(AuthState)).locale
        try:
            async with async_session() as session:
                await mailed_links.resend_verification(session, user_id=user.id)
        except AccountError as exc:
            self.result = text(locale, f"err_{exc.code}", n=exc.retry_after)
            return
        self.result = text(locale, "mail_verify_resent")


def email_banner() -> rx.Component:
    return rx.box(
        rx.cond(
            EmailBannerState.unverified,
            rx.callout(
                rx.vstack(
                    rx.text(EmailBannerState.message),
                    rx.hstack(rx.button(AuthState.tr["mail_verify_resend"], size="1", variant="soft",
                                        on_click=EmailBannerState.handle_resend_click, id="resend-verification"),
                              rx.text(EmailBannerState.result, size="2", id="resend-result"),
                              spacing="3", align="center", wrap="wrap"),
                    spacing="2",
                ),
                icon="mail",
                color_scheme="amber",
                id="email-banner",
                width="100%",
            ),
        ),
        on_mount=EmailBannerState.load_email_banner,
        width="100%",
    )


class MailStatusState(rx.State):
    """For the admin overview: whether mail is off (and why), or how the queue is doing."""

    mail_off: bool = False
    summary: str = ""

    @rx.event
    async def load_mail_status(self):
        from chatai.services import mail
        from chatai.web.state.auth import require_admin

        if await require_admin(self) is None:
            return
        self.mail_off = not mail.mail_enabled()
        if self.mail_off:
            return
        async with async_session() as session:
            status = await mail.outbox_status(session)
        # Queue size and give-ups in the admin's language; the SMTP server's own error text as it came.
        locale = (await self.get_state(AuthState)).locale
        self.summary = text(locale, "admin_mail_queue", waiting=status.waiting, given_up=status.given_up) + (
            " " + text(locale, "admin_mail_queue_error", error=status.last_error) if status.last_error else "")


def mail_status_callout() -> rx.Component:
    return rx.box(
        rx.cond(MailStatusState.mail_off,
                rx.callout(AuthState.tr["mail_admin_off"], icon="mail-x", color_scheme="amber", width="100%",
                           id="mail-off"),
                rx.cond(MailStatusState.summary != "",
                        rx.text(MailStatusState.summary, size="2", color=rx.color("gray", 11), id="mail-status"))),
        on_mount=MailStatusState.load_mail_status,
        width="100%",
    )
