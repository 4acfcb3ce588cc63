"""Owner overview: counts and the first steps."""

from __future__ import annotations

import reflex as rx

from chatai.db.session import async_session
from chatai.services.overview import owner_overview
from chatai.web import routes
from chatai.web.components.layout import card, dashboard_page, page_header, stat_card, stat_grid, t
from chatai.web.state.auth import require_user


class OverviewState(rx.State):
    assistants: int = 0
    documents: int = 0
    bots_running: int = 0
    dialogs: int = 0

    @rx.event
    async def load_overview(self):
        user = await require_user(self)
        if user is None:
            return rx.redirect(routes.SIGNIN)
        async with async_session() as session:
            o = await owner_overview(session, owner_id=user.id)
        self.assistants, self.documents, self.bots_running, self.dialogs = (
            o.assistants, o.documents, o.bots_running, o.dialogs)


def _step(n: int, key: str, href: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.badge(str(n), variant="solid", radius="full"), rx.text(t(key)),
                  rx.spacer(), rx.icon("chevron-right", size=16), align="center", width="100%", padding_y="6px"),
        href=href, underline="none", color=rx.color("gray", 12), width="100%",
    )


@dashboard_page
def overview_page() -> rx.Component:
    return rx.vstack(
        page_header("overview_title", "overview_subtitle"),
        stat_grid(
            stat_card("stat_assistants", OverviewState.assistants, "bot"),
            stat_card("stat_documents", OverviewState.documents, "file-text"),
            stat_card("stat_bots", OverviewState.bots_running, "send"),
            stat_card("stat_dialogs", OverviewState.dialogs, "messages-square"),
        ),
        card(
            rx.heading(t("getting_started"), size="4", margin_bottom="8px"),
            _step(1, "step_create_assistant", routes.ASSISTANTS),
            _step(2, "step_upload_docs", routes.KNOWLEDGE),
            _step(3, "step_connect_bot", routes.BOTS),
        ),
        spacing="5",
        width="100%",
    )
