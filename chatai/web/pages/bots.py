"""Telegram bots: connect by token (validated with getMe), live status, pause/resume, replace the
token, disconnect. The token is sent once and never comes back: only its hint is shown."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import reflex as rx

from chatai.business import connections as business_connections
from chatai.db.session import async_session
from chatai.formatting import format_time
from chatai.services import assistants as assistants_svc
from chatai.services import bot_events as bot_events_svc
from chatai.services import bots as bots_svc
from chatai.team.roles import BOTS
from chatai.web import routes
from chatai.web.components.business_connections import business_section, connection_dict
from chatai.web.components.confirm import confirm_action
from chatai.web.components.layout import card, dashboard_page, empty_state, error_callout, page_header, t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState, client_connected, tab_time_zone
from chatai.web.texts.bot_events import bot_event_text
from chatai.web.texts.first_hour import bot_error

# Status refresh while the page is open; start/stop take effect in the runner within ~2 s.
POLL_SECONDS = 1.5
MAX_POLLS = 2400  # an hour; reloading the page starts a new poller


def _bot_row(b: bots_svc.BotView, locale: str, time_zone: str, business: int = 0) -> dict[str, str]:
    return {"id": str(b.id), "username": b.username, "assistant": b.assistant_name, "hint": b.token_hint,
            "status": b.status, "desired": b.desired_state, "error": bot_event_text(locale, b.last_error),
            "error_at": format_time(b.last_error_at, time_zone, seconds=True), "mode": b.mode,
            "business": str(business)}


class BotsState(rx.State):
    bots: list[dict[str, str]] = []
    assistant_options: list[dict[str, str]] = []
    connect_assistant_id: str = ""
    error: str = ""
    busy: bool = False
    polling: bool = False
    replace_id: str = ""
    # The event log dialog: one bot's events (platform-written sentences, shown as plain text).
    events_open: bool = False
    events_bot: str = ""
    events: list[dict[str, str]] = []
    # Telegram Business connections of the owner's bots (components/business_connections.py)
    business: list[dict[str, str]] = []
    # Keyset paging (an owner may have thousands of bots; the status refresh reads only the page shown): the
    # cursor each shown page started after ("" = the first page), the next page's, and how many bots in all.
    page_starts: list[str] = [""]
    next_cursor: str = ""
    bots_total: int = 0

    async def _reload(self, owner_id: uuid.UUID) -> None:
        async with async_session() as session:
            page = await bots_svc.list_bots_page(session, owner_id=owner_id, after=self.page_starts[-1])
            if not page.views and len(self.page_starts) > 1:  # the last bots of this page were disconnected
                self.page_starts = [""]
                page = await bots_svc.list_bots_page(session, owner_id=owner_id)
            self.bots_total = await bots_svc.count_bots(session, owner_id=owner_id)
            shown = {b.id for b in page.views}
            connections = [c for c in await business_connections.list_connections(session, owner_id=owner_id)
                           if c.bot_id in shown]
        locale = await self._locale()
        time_zone = await tab_time_zone(self)
        counts = Counter(str(c.bot_id) for c in connections)
        self.bots = [_bot_row(b, locale, time_zone, counts[str(b.id)]) for b in page.views]
        self.business = [connection_dict(c) for c in connections]
        self.next_cursor = page.next_after

    @rx.event
    async def turn_page(self, where: str):
        """next | prev | first."""
        access = await require_access(self, BOTS)
        if access is None:
            return await refusal(self)
        if where == "next" and self.next_cursor:
            self.page_starts = [*self.page_starts, self.next_cursor]
        elif where == "prev" and len(self.page_starts) > 1:
            self.page_starts = self.page_starts[:-1]
        elif where == "first":
            self.page_starts = [""]
        await self._reload(access.business_id)
        return None

    @rx.event
    async def load_bots(self):
        access = await require_access(self, BOTS)
        if access is None:
            return await refusal(self)
        async with async_session() as session:
            mine = await assistants_svc.list_assistants(session, owner_id=access.business_id)
        self.assistant_options = [{"id": str(a.id), "name": a.name} for a in mine]
        if self.connect_assistant_id not in {a["id"] for a in self.assistant_options}:
            self.connect_assistant_id = self.assistant_options[0]["id"] if self.assistant_options else ""
        self.error = ""
        self.page_starts = [""]
        await self._reload(access.business_id)
        return BotsState.poll_status

    @rx.event
    def set_connect_assistant_id(self, value: str):
        self.connect_assistant_id = value

    @rx.event(background=True)
    async def poll_status(self):
        async with self:
            if self.polling:
                return
            self.polling = True
        try:
            for _ in range(MAX_POLLS):
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    if self.router.url.path.rstrip("/") != routes.BOTS or not client_connected(self):
                        return
                    access = await require_access(self, BOTS)
                    if access is None:
                        return
                    await self._reload(access.business_id)
        finally:
            async with self:
                self.polling = False

    async def _locale(self) -> str:
        return (await self.get_state(AuthState)).locale

    @rx.event
    async def handle_connect_submit(self, form: dict):
        access = await require_access(self, BOTS)
        if access is None:
            yield await refusal(self)
            return
        self.error = ""
        self.busy = True
        yield
        try:
            async with async_session() as session:
                await bots_svc.connect_bot(session, owner_id=access.business_id,
                                           assistant_id=uuid.UUID(self.connect_assistant_id),
                                           token=str(form.get("token", "")))
        except bots_svc.BotError as exc:
            self.error = text(await self._locale(), "err_email_unverified") if exc.code == "email_unverified" \
                else bot_error(await self._locale(), code=exc.code, message=exc.message)
        except (assistants_svc.NotFound, ValueError):
            self.error = text(await self._locale(), "err_not_found")
        finally:
            self.busy = False
        await self._reload(access.business_id)
        if not self.error:
            yield rx.set_value("bot-token", "")

    async def _action(self, bot_id: str, action):
        access = await require_access(self, BOTS)
        if access is None:
            return await refusal(self)
        self.error = ""
        try:
            async with async_session() as session:
                await action(session, owner_id=access.business_id, bot_id=uuid.UUID(bot_id))
        except bots_svc.BotError as exc:
            self.error = bot_error(await self._locale(), code=exc.code, message=exc.message)
        except (assistants_svc.NotFound, ValueError):
            self.error = text(await self._locale(), "err_not_found")
        await self._reload(access.business_id)
        return None

    @rx.event
    async def pause_bot(self, bot_id: str):
        return await self._action(bot_id, bots_svc.pause_bot)

    @rx.event
    async def resume_bot(self, bot_id: str):
        return await self._action(bot_id, bots_svc.resume_bot)

    @rx.event
    async def disconnect_bot(self, bot_id: str):
        return await self._action(bot_id, bots_svc.disconnect_bot)

    @rx.event
    async def open_events(self, bot_id: str):
        access = await require_access(self, BOTS)
        if access is None:
            return await refusal(self)
        try:
            async with async_session() as session:
                found = await bot_events_svc.list_events(session, owner_id=access.business_id, bot_id=uuid.UUID(bot_id))
        except (assistants_svc.NotFound, ValueError):
            self.error = text(await self._locale(), "err_not_found")
            return None
        locale, time_zone = await self._locale(), await tab_time_zone(self)
        self.events = [{"kind": e.kind, "message": bot_event_text(locale, e.message),
                        "at": format_time(e.created_at, time_zone, seconds=True)} for e in found]
        self.events_bot = next((b["username"] for b in self.bots if b["id"] == bot_id), "")
        self.events_open = True
        return None

    @rx.event
    def set_events_open(self, value: bool):
        self.events_open = value
        if not value:
            self.events = []

    @rx.event
    def start_replace(self, bot_id: str):
        self.replace_id = bot_id
        self.error = ""

    @rx.event
    def cancel_replace(self):
        self.replace_id = ""

    @rx.event
    async def handle_replace_submit(self, form: dict):
        access = await require_access(self, BOTS)
        if access is None:
            return await refusal(self)
        self.error = ""
        try:
            async with async_session() as session:
                await bots_svc.replace_token(session, owner_id=access.business_id, bot_id=uuid.UUID(self.replace_id),
                                             token=str(form.get("token", "")))
        except bots_svc.BotError as exc:
            self.error = bot_error(await self._locale(), code=exc.code, message=exc.message)
            return
        except (assistants_svc.NotFound, ValueError):
            self.error = text(await self._locale(), "err_not_found")
            return
        self.replace_id = ""
        await self._reload(access.business_id)


_STATUS = {"running": ("green", "bot_running"), "paused": ("gray", "bot_paused"), "error": ("red", "bot_error"),
           "starting": ("blue", "bot_starting")}


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.match(status, *[(k, rx.badge(t(label), color_scheme=color, class_name="bot-status"))
                              for k, (color, label) in _STATUS.items()],
                    rx.badge(status, class_name="bot-status"))


_EVENT_KINDS = {"error": "red", "recovered": "green", "update_failed": "amber", "paused": "gray", "resumed": "blue",
                "token_replaced": "violet", "operator_unlinked": "amber", "operator_alert_failed": "amber"}


def _event_row(e: dict) -> rx.Component:
    kind = rx.match(e["kind"], *[(k, rx.badge(t(f"bot_events_kind_{k}"), color_scheme=color))
                                 for k, color in _EVENT_KINDS.items()], rx.badge(e["kind"]))
    return rx.hstack(
        rx.box(kind, min_width="130px"),
        rx.vstack(rx.text(e["message"], size="2"), rx.text(e["at"], size="1", color=rx.color("gray", 10)),
                  spacing="0", min_width="0"),
        align="start",
        width="100%",
        class_name="bot-event",
    )


def _events_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(t("bot_events_title"), rx.cond(BotsState.events_bot != "", " · @" + BotsState.events_bot,
                                                           "")),
            rx.dialog.description(t("bot_events_subtitle"), size="2", color=rx.color("gray", 10)),
            rx.cond(BotsState.events.length() > 0,
                    rx.scroll_area(rx.vstack(rx.foreach(BotsState.events, _event_row), spacing="3", width="100%"),
                                   type="auto", scrollbars="vertical", max_height="60vh", margin_top="12px"),
                    rx.text(t("bot_events_empty"), size="2", margin_top="12px")),
            rx.flex(rx.dialog.close(rx.button(t("bot_events_close"), variant="soft", color_scheme="gray")),
                    justify="end", margin_top="16px"),
            max_width="680px",
            id="bot-events",
        ),
        open=BotsState.events_open,
        on_open_change=BotsState.set_events_open,
    )


def _bot_card(b: dict) -> rx.Component:
    paused = b["desired"] == "paused"
    return card(
        rx.vstack(
            rx.hstack(
                rx.center(rx.icon("send", size=18), bg=rx.color("sky", 3), border_radius="10px", width="40px",
                          height="40px", flex_shrink="0"),
                rx.vstack(rx.link("@", b["username"], href="https://t.me/" + b["username"], is_external=True,
                                  weight="bold", size="4", class_name="bot-link"),
                          rx.text(b["assistant"], size="1", color=rx.color("gray", 10)),
                          # How it receives messages is a detail for the curious, not the card.
                          rx.el.details(
                              rx.el.summary(t("first_hour_bot_details"), cursor="pointer"),
                              rx.text(b["hint"], " · ", t("first_hour_bot_mode"), " ",
                                      rx.match(b["mode"], ("polling", t("first_hour_bot_mode_polling")),
                                               ("webhook", t("first_hour_bot_mode_webhook")), b["mode"]),
                                      class_name="bot-mode"),
                              font_size="12px", color=rx.color("gray", 10), class_name="bot-details"),
                          spacing="0", min_width="0"),
                rx.spacer(),
                _status_badge(b["status"]),
                rx.cond(b["desired"] == "admin_paused",  # services/bots.py ADMIN_PAUSED: only an admin resumes it
                        rx.badge(t("adm_bot_admin_paused"), color_scheme="orange", class_name="admin-paused"),
                        rx.fragment()),
                align="center",
                width="100%",
            ),
            rx.cond(b["error"] != "",
                    rx.callout(rx.text(t("last_error"), ": ", b["error"], " (", b["error_at"], ")"),
                               icon="triangle-alert", color_scheme="red", size="1", width="100%"),
                    rx.fragment()),
            business_section(b, BotsState.business),
            rx.cond(
                BotsState.replace_id == b["id"],
                rx.form(
                    rx.hstack(rx.input(name="token", type="password", placeholder=t("bot_token"), flex="1",
                                       required=True, auto_complete="off"),
                              rx.button(t("save"), type="submit"),
                              rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                        on_click=BotsState.cancel_replace), width="100%"),
                    on_submit=BotsState.handle_replace_submit,
                    width="100%",
                ),
                rx.hstack(
                    rx.cond(b["desired"] == "admin_paused", rx.fragment(),
                            rx.cond(paused,
                                    rx.button(rx.icon("play", size=14), t("resume"), size="1", variant="soft",
                                              on_click=BotsState.resume_bot(b["id"]), class_name="resume-bot"),
                                    rx.button(rx.icon("pause", size=14), t("pause"), size="1", variant="soft",
                                              on_click=BotsState.pause_bot(b["id"]), class_name="pause-bot"))),
                    rx.button(rx.icon("key-round", size=14), t("replace_token"), size="1", variant="soft",
                              color_scheme="gray", on_click=BotsState.start_replace(b["id"]),
                              class_name="replace-token"),
                    rx.button(rx.icon("history", size=14), t("bot_events_button"), size="1", variant="soft",
                              color_scheme="gray", on_click=BotsState.open_events(b["id"]), class_name="bot-events"),
                    rx.spacer(),
                    confirm_action(
                        rx.button(rx.icon("unplug", size=14), t("disconnect"), size="1", variant="soft",
                                  color_scheme="red", class_name="disconnect-bot"),
                        title_key="first_hour_confirm_disconnect_bot", subject="@" + b["username"],
                        loss_key="first_hour_loss_bot", action_key="disconnect",
                        on_confirm=BotsState.disconnect_bot(b["id"])),
                    width="100%",
                    wrap="wrap",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        class_name="bot-card",
    )


def _connect_form() -> rx.Component:
    return card(
        rx.form(
            rx.flex(
                rx.select.root(
                    rx.select.trigger(min_width="200px", id="bot-assistant"),
                    rx.select.content(rx.foreach(BotsState.assistant_options,
                                                 lambda a: rx.select.item(a["name"], value=a["id"]))),
                    value=BotsState.connect_assistant_id,
                    on_change=BotsState.set_connect_assistant_id,
                ),
                rx.input(name="token", id="bot-token", type="password", placeholder=t("bot_token"), flex="1",
                         min_width="240px", required=True, auto_complete="off"),
                rx.button(rx.icon("plug", size=16), t("connect_bot"), type="submit", loading=BotsState.busy,
                          id="connect-bot"),
                gap="12px",
                wrap="wrap",
                width="100%",
            ),
            on_submit=BotsState.handle_connect_submit,
            width="100%",
        ),
    )


def _pager() -> rx.Component:
    """Shown only when the owner's bots do not fit one page."""
    return rx.hstack(
        rx.button(t("bots_page_first"), variant="soft", size="1", on_click=BotsState.turn_page("first"),
                  disabled=BotsState.page_starts.length() <= 1),
        rx.button(t("bots_page_prev"), variant="soft", size="1", on_click=BotsState.turn_page("prev"),
                  disabled=BotsState.page_starts.length() <= 1, id="bots-prev"),
        rx.button(t("bots_page_next"), variant="soft", size="1", on_click=BotsState.turn_page("next"),
                  disabled=BotsState.next_cursor == "", id="bots-next"),
        rx.text(AuthState.tr["bots_page_count"].replace("{n}", BotsState.bots_total.to_string()), size="2",
                color=rx.color("gray", 10), id="bots-count"),
        align="center", wrap="wrap", spacing="3",
    )


@dashboard_page
def bots_page() -> rx.Component:
    return rx.vstack(
        page_header("bots_title", "bots_subtitle"),
        rx.cond(BotsState.assistant_options.length() > 0, _connect_form(),
                card(empty_state("bot", "need_assistant_first"),
                     rx.center(rx.link(rx.button(rx.icon("plus", size=16), t("first_hour_bots_go_create")),
                                       href=routes.ASSISTANTS, id="go-create-assistant"), width="100%"))),
        error_callout(BotsState.error),
        rx.cond(BotsState.bots.length() > 0,
                rx.grid(rx.foreach(BotsState.bots, _bot_card), columns=rx.breakpoints(initial="1", md="2"),
                        spacing="4", width="100%"),
                card(empty_state("send", "no_bots"))),
        rx.cond(BotsState.page_starts.length() + rx.cond(BotsState.next_cursor == "", 0, 1) > 1, _pager(),
                rx.fragment()),
        _events_dialog(),
        spacing="4",
        width="100%",
    )
