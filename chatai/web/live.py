"""Live updates in the browser: the sidebar's unread badge, the "waiting for a person" notice, and the
push of dialog events (services/live.py) into the open tabs of their owner.

One subscriber per web worker (a lifespan task). A tab registers itself when its dashboard sidebar
mounts or the inbox loads (client token -> owner, in this worker's registry); an event for owner X
goes only to X's registered tabs, each after its session is checked, so a tab that signed out or
belongs to someone else never receives anything. Tabs whose websocket closed are forgotten.

Cost per batch of events (issue 24): one read per owner (the badge counts and the changed dialogs'
rows), shared by all that owner's tabs; each tab applies the rows to its list (a delta, no re-read
unless its filters need the database) through its own one-deep queue (services/live.LiveFanout), so
a slow tab delays no other and the subscriber never waits for a tab.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.security import token_hash
from chatai.services import accounts
from chatai.services import inbox as inbox_svc
from chatai.services.live import DialogEvent, LiveFanout, LiveRegistry, OwnerChange, run_dialog_subscriber
from chatai.web import routes
from chatai.web.state.auth import AuthState, require_user

log = logging.getLogger(__name__)

REGISTRY = LiveRegistry()
PRUNE_SECONDS = 5.0


class LiveBadgeState(rx.State):
    """Unread user messages and dialogs waiting for a person, for the sidebar of every dashboard page."""

    unread: int = 0
    waiting: int = 0
    notice_name: str = ""
    notice_dialog: str = ""
    tab_hidden: bool = False  # as the server knows it (live updates wait while hidden)

    async def refresh(self, owner_id: uuid.UUID | None = None, *, announce: bool = False,
                      summary: inbox_svc.UnreadSummary | None = None) -> bool:
        """Re-read the counts (or take the owner's `summary`, read once for all their tabs); False when this
        tab is no longer signed in as `owner_id`."""
        user = await require_user(self)
        if user is None or (owner_id is not None and user.id != owner_id):
            self.unread, self.waiting, self.notice_name, self.notice_dialog = 0, 0, "", ""
            return False
        if summary is None or owner_id is None:
            async with async_session() as session:
                summary = await inbox_svc.unread_summary(session, owner_id=user.id)
        self.show(summary, announce=announce)
        return True

    def show(self, summary: inbox_svc.UnreadSummary, *, announce: bool = False) -> None:
        """Counts already read for this tab's (checked) owner."""
        if announce and summary.waiting > self.waiting and summary.latest_waiting_id is not None:
            self.notice_dialog = str(summary.latest_waiting_id)
            self.notice_name = summary.latest_waiting_name or "—"
        if summary.waiting == 0:
            self.notice_name, self.notice_dialog = "", ""
        self.unread, self.waiting = summary.unread, summary.waiting

    @rx.event
    async def track(self):
        """The sidebar mounted: count, and receive live updates in this tab (and hear when it is hidden)."""
        user = await require_user(self)
        if user is None:
            return
        register_tab(self.router.session.client_token, user.id, (await self.get_state(AuthState)).session_token)
        await self.refresh(user.id)
        return rx.call_script(VISIBILITY_JS)

    @rx.event
    async def tab_visibility(self, hidden: bool):
        """The browser hid or showed this tab: a hidden tab gets its live updates when it is shown again."""
        user = await require_user(self)
        token = self.router.session.client_token
        registration = REGISTRY.get(token)
        if user is None or registration is None or registration.owner_id != user.id:
            return
        FANOUT.set_hidden(token, bool(hidden))
        self.tab_hidden = bool(hidden)

    @rx.event
    def dismiss_notice(self):
        self.notice_name, self.notice_dialog = "", ""


# The page's visibility reaches the server through two hidden buttons (a listener installed once per page).
VISIBILITY_JS = """(() => {
  const tell = () => document.getElementById(document.hidden ? 'live-tab-hidden' : 'live-tab-shown')?.click();
  if (!window.__chataiVisibility) {
    window.__chataiVisibility = true;
    document.addEventListener('visibilitychange', tell);
  }
  // On (re)mount: say so when hidden, and when the server still thinks hidden (a change lost in a reconnect).
  if (document.hidden || document.getElementById('live-tab-hidden')?.dataset.hidden === 'yes') tell();
})()"""


def _visibility_buttons() -> rx.Component:
    hidden = {"display": "none"}
    return rx.fragment(
        rx.el.button(id="live-tab-hidden", on_click=LiveBadgeState.tab_visibility(True), style=hidden,
                     aria_hidden="true", tab_index=-1, type="button",
                     custom_attrs={"data-hidden": rx.cond(LiveBadgeState.tab_hidden, "yes", "no")}),
        rx.el.button(id="live-tab-shown", on_click=LiveBadgeState.tab_visibility(False), style=hidden,
                     aria_hidden="true", tab_index=-1, type="button"),
    )


def unread_badge() -> rx.Component:
    """Beside "Inbox" in the sidebar: unread messages, and waiting dialogs in orange."""
    return rx.hstack(
        _visibility_buttons(),
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


def register_tab(token: str, owner_id: uuid.UUID, session_token: str) -> None:
    """This tab (client token) shows `owner_id`'s dashboard, signed in with `session_token` (kept as its hash:
    the batch's one session check covers every tab registered with a session still valid)."""
    REGISTRY.register(token, owner_id=owner_id, session_hash=token_hash(session_token) if session_token else "")


async def read_owner_change(owner_id: uuid.UUID, dialog_ids: set[uuid.UUID]) -> OwnerChange:
    """Once per owner per batch, for all their tabs: the badge counts, the changed dialogs' list rows, and
    which of the sessions their tabs registered with are still signed in."""
    hashes = {r.session_hash for _, r in REGISTRY.clients_of(owner_id) if r.session_hash}
    async with async_session() as session:
        summary = await inbox_svc.unread_summary(session, owner_id=owner_id)
        rows = await inbox_svc.dialog_rows(session, owner_id=owner_id, dialog_ids=dialog_ids)
        valid = await accounts.live_sessions(session, user_id=owner_id, token_hashes=hashes)
    return OwnerChange(owner_id, set(dialog_ids), summary=summary, rows=rows,
                       extra={"sessions": {}, "valid_sessions": valid})


async def _tab_user_id(root: rx.State, change: OwnerChange) -> uuid.UUID | None:
    """Who this tab is signed in as. A session found valid for the owner by the batch's one check (see
    read_owner_change) needs no statement of its own; any other is checked in the database once per change
    (tabs of one browser share a session), so a batch costs no statement per tab."""
    auth = await root.get_state(AuthState)
    token = auth.session_token
    if token and token_hash(token) in (change.extra or {}).get("valid_sessions", ()):
        return change.owner_id
    checked: dict[str, uuid.UUID | None] = (change.extra or {}).setdefault("sessions", {})
    if token and token in checked:
        return checked[token]
    user = await auth.current_user()
    user_id = user.id if user is not None else None
    if token:
        checked[token] = user_id
    return user_id


async def push_to_client(token: str, change: OwnerChange) -> bool:
    """Apply the owner's change to one tab: its badge, and its inbox when the inbox is the page it shows.
    False when the tab is no longer signed in as the change's owner (it is then forgotten)."""
    from chatai.chatai import app
    from chatai.web.state.inbox import InboxState

    if not _connected(token):
        return False
    async with app.modify_state(rx.BaseStateToken(ident=token, cls=LiveBadgeState)) as root:
        badge = await root.get_state(LiveBadgeState)
        user_id = await _tab_user_id(root, change)
        if user_id != change.owner_id:
            badge.unread, badge.waiting, badge.notice_name, badge.notice_dialog = 0, 0, "", ""
            return False
        if change.summary is not None:
            badge.show(change.summary, announce=True)
        if change.dialog_ids and root.router.url.path.rstrip("/") == routes.INBOX:
            inbox = await root.get_state(InboxState)
            await inbox.apply_live(user_id, change)
            if inbox.open_id and inbox.open_id == badge.notice_dialog:  # already open on this tab
                badge.notice_name, badge.notice_dialog = "", ""
        elif change.dialog_ids and root.router.url.path.rstrip("/") == routes.KNOWLEDGE:  # the playground's own
            from chatai.web.state.playground import PlaygroundState

            await (await root.get_state(PlaygroundState)).refresh_live(user_id, change.dialog_ids)
    return True


def tabs_of(owner_id: uuid.UUID) -> list[str]:
    """This worker's open tabs of `owner_id` (closed ones forgotten). Other live news for an owner goes out
    through the same queues: `FANOUT.offer(tabs_of(owner), OwnerChange(owner, set(), extra={...}))`, applied
    in push_to_client."""
    tokens = []
    for token, _ in REGISTRY.clients_of(owner_id):
        if not _connected(token):
            REGISTRY.unregister(token)
            FANOUT.drop(token)
            continue
        tokens.append(token)
    return tokens


FANOUT = LiveFanout(tabs_of=tabs_of, read=read_owner_change, deliver=push_to_client, forget=REGISTRY.unregister)


async def dispatch(events: list[DialogEvent]) -> None:
    """A batch of dialog events: one read per owner with open tabs, then each tab's own queue (services/live.py)."""
    await FANOUT.dispatch(events)


async def _prune_forever() -> None:
    while True:
        await asyncio.sleep(PRUNE_SECONDS)
        REGISTRY.prune(_connected)
        for token in [t for t in FANOUT.tabs if REGISTRY.get(t) is None]:
            FANOUT.drop(token)


async def run_live_updates() -> None:
    """Lifespan task of each web worker."""
    pruner = asyncio.create_task(_prune_forever())
    try:
        await run_dialog_subscriber(dispatch)
    finally:
        pruner.cancel()
