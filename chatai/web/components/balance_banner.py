"""The low / zero balance banner shown above every dashboard page (and so on the bots page).

Its own tiny state, loaded when the page mounts: the balance can change between pages (answers are
charged all the time), and a banner that lagged a page behind would warn too late.
"""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services import billing
from chatai.team.roles import BILLING
from chatai.web import routes
from chatai.web.i18n import text
from chatai.web.state.access import require_access
from chatai.web.state.auth import AuthState


class BalanceBannerState(rx.State):
    message: str = ""
    zero: bool = False

    @rx.event
    async def load_balance_banner(self):
        access = await require_access(self, BILLING)  # the money is the owner's to see (chatai/team/roles.py)
        self.message, self.zero = "", False
        if access is None or (await self.get_state(AuthState)).user_role == "admin":
            return
        async with async_session() as session:
            view = await billing.get_balance(session, user_id=access.business_id)
        left = view.answers_left
        if left is None or not view.low:
            return
        locale = (await self.get_state(AuthState)).locale
        self.zero = left == 0
        self.message = text(locale, "billing_zero_banner") if self.zero else text(locale, "billing_low_banner", n=left)


def balance_banner() -> rx.Component:
    return rx.box(
        rx.cond(
            BalanceBannerState.message != "",
            rx.callout(
                rx.hstack(rx.text(BalanceBannerState.message),
                          rx.link(AuthState.tr["nav_billing"], href=routes.BILLING, weight="bold"),
                          spacing="3", wrap="wrap"),
                icon="wallet",
                color_scheme=rx.cond(BalanceBannerState.zero, "red", "amber"),
                id="balance-banner",
                width="100%",
            ),
        ),
        on_mount=BalanceBannerState.load_balance_banner,
        width="100%",
    )
