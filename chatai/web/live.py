"""Live updates in the browser: the sidebar's unread badge, the "waiting for a person" notice, and the
push of dialog events (services/live.py) into the open tabs of their owner.

One subscriber per web worker (a lifespan task). A tab registers itself when its dashboard sidebar
mounts or the inbox loads (client token -> owner, in this worker's registry); an event for owner X
refreshes only X's registered tabs, each after re-checking that tab's session, so a tab that signed
out or belongs to someone else never receives anything. Tabs whose websocket closed are forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services import inbox as inbox_svc
from chatai.services.live import DialogEvent, LiveRegistry, group_by_owner, run_dialog_subscriber
from chatai.team.roles import INBOX
from chatai.web import routes
from chatai.web.state.access import require_access
from chatai.web.state.auth import AuthState

log = logging.getLogger(__name__)

REGISTRY = LiveRegistry()
PRUNE_SECONDS = 5.0


class LiveBadgeState(rx.State):
    """Unread user messages and dialogs waiting for a person, for the sidebar of every dashboard page."""

    unread: int = 0
    waiting: int = 0
    notice_name: str = ""
    notice_dialog: str = ""

    async def refresh(self, owner_id: uuid.UUID | None = None, *, announce: bool = False,
                      summary: inbox_svc.UnreadSummary | None = None) -> bool:
        """Re-read the counts (or take the owner's `summary`, read once for all their tabs); False when this
        tab is no longer signed in as `owner_id`."""
        access = await require_access(self, INBOX)  # the tab's selected business, re-checked
        if access is None or (owner_id is not None and access.business_id != owner_id):
            self.unread, self.waiting, self.notice_name, self.notice_dialog = 0, 0, "", ""
            return False
        if summary is None or owner_id is None:
            async with async_session() as session:
                summary = await inbox_svc.unread_summary(session, owner_id=access.business_id)
        if announce and summary.waiting > self.waiting and summary.latest_waiting_id is not None:
            self.notice_dialog = str(summary.latest_waiting_id)
            self.notice_name = summary.latest_waiting_name or "—"
        if summary.waiting == 0:
            self.notice_name, self.notice_dialog = "", ""
        self.unread, self.waiting = summary.unread, summary.waiting
        return True

    @rx.event
    async def track(self):
        """The sidebar mounted: count, and receive live updates in this tab."""
        access = await require_access(self, INBOX)
        if access is None:
            return
        REGISTRY.register(self.router.session.client_token, owner_id=access.business_id)
        await self.refresh(access.business_id)

    @rx.event
    def dismiss_notice(self):
        self.notice_name, self.notice_dialog = "", ""


def unread_badge() -> rx.Component:
    """Beside "Inbox" in the sidebar: unread messages, and waiting dialogs in orange."""
    return rx.hstack(
        rx.cond(LiveBadgeState.waiting > 0,
                rx.badge(LiveBadgeState.waiting, color_scheme="orange", variant="solid", radius="full",
                         id="nav-waiting", title=AuthState.tr["inbox_status_waiting"]),
                rx.fragment()),
        rx.cond(LiveBadgeState.unread > 0,
                rx.badge(LiveBadgeState.unread, color_scheme="indigo", radius="full", id="nav-unread",
                         title=AuthState.tr["inbox_unread"]),
                rx.fragment()),
        spacing="1",
        on_mount=LiveBadgeState.track,
    )


def waiting_notice() -> rx.Component:
    """A visible (silent) notice on every dashboard page when a dialog starts waiting for a person."""
    return rx.cond(
        LiveBadgeState.notice_dialog != "",
        rx.callout.root(
            rx.hstack(
                rx.callout.icon(rx.icon("hand")),
                rx.callout.text(rx.text.strong(LiveBadgeState.notice_name), " ", AuthState.tr["inbox_waiting_notice"]),
                rx.spacer(),
                rx.link(AuthState.tr["inbox_waiting_notice_open"],
                        href=routes.INBOX + "?dialog=" + LiveBadgeState.notice_dialog,
                        on_click=LiveBadgeState.dismiss_notice, id="waiting-notice-open"),
                rx.icon_button(rx.icon("x", size=14), variant="ghost", size="1",
                               aria_label=AuthState.tr["bot_events_close"], on_click=LiveBadgeState.dismiss_notice),
                align="center", width="100%",
            ),
            color_scheme="orange", role="status", width="100%", margin_bottom="16px", id="waiting-notice",
        ),
        rx.fragment(),
    )


# --- the push -------------------------------------------------------------------------------------


def _connected(token: str) -> bool:
    from chatai.chatai import app

    namespace = app.event_namespace
    return namespace is not None and token in namespace.token_to_sid


async def push_to_client(token: str, owner_id: uuid.UUID, dialog_ids: set[uuid.UUID],
                         summary: inbox_svc.UnreadSummary | None = None) -> None:
    """Refresh one tab's badge, and its inbox when the inbox is the page it shows."""
    from chatai.chatai import app
    from chatai.web.state.inbox import InboxState

    async with app.modify_state(rx.BaseStateToken(ident=token, cls=LiveBadgeState)) as root:
        badge = await root.get_state(LiveBadgeState)
        if not await badge.refresh(owner_id, announce=True, summary=summary):
            REGISTRY.unregister(token)
            return
        if root.router.url.path.rstrip("/") == routes.INBOX:
            inbox = await root.get_state(InboxState)
            await inbox.refresh_live(owner_id, dialog_ids)
            if inbox.open_id and inbox.open_id == badge.notice_dialog:  # already open on this tab
                badge.notice_name, badge.notice_dialog = "", ""


async def dispatch(events: list[DialogEvent]) -> None:
    pushes = []
    for owner_id, owner_events in group_by_owner(events).items():
        dialog_ids = {e.dialog_id for e in owner_events}
        tokens = []
        for token, _ in REGISTRY.clients_of(owner_id):
            if not _connected(token):
                REGISTRY.unregister(token)
                continue
            tokens.append(token)
        if not tokens:
            continue
        # The same counts for every tab of this owner: one query, not one per tab (each tab still checks
        # its own session before it is shown anything).
        async with async_session() as session:
            summary = await inbox_svc.unread_summary(session, owner_id=owner_id)
        pushes.extend(push_to_client(token, owner_id, dialog_ids, summary) for token in tokens)
    for result in await asyncio.gather(*pushes, return_exceptions=True):
        if isinstance(result, Exception):
            log.warning("live push failed: %r", result)


async def _prune_forever() -> None:
    while True:
        await asyncio.sleep(PRUNE_SECONDS)
        REGISTRY.prune(_connected)


async def run_live_updates() -> None:
    """Lifespan task of each web worker."""
    pruner = asyncio.create_task(_prune_forever())
    try:
        await run_dialog_subscriber(dispatch)
    finally:
        pruner.cancel()
