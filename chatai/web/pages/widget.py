"""The "Website" channel of an assistant: on/off, allowed sites, appearance, a live preview (drawn by the
dashboard from the form's values, since the real panel may only be framed by the owner's sites), and the
embed snippet with a copy button. A thin adapter over chatai/widget/store.py."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services import assistants as assistants_svc
from chatai.team.roles import WIDGET, Access
from chatai.web import routes
from chatai.web.components.layout import card, dashboard_page, empty_state, error_callout, page_header, t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access, upload_business
from chatai.web.state.auth import AuthState
from chatai.widget import store

WEBSITE = routes.OVERVIEW + "/website"
AVATAR_UPLOAD_ID = "widget-avatar"


class WidgetState(rx.State):
    assistant_options: list[dict[str, str]] = []
    assistant_id: str = ""
    enabled: bool = False
    sites: str = ""
    title: str = ""
    operator_name: str = ""
    accent_color: str = "#4f46e5"
    position: str = "right"
    welcome: str = ""
    language: str = "auto"
    show_sources: bool = True
    has_avatar: bool = False
    snippet: str = ""
    error: str = ""
    notice: str = ""

    async def _locale(self) -> str:
        return (await self.get_state(AuthState)).locale

    async def _access(self) -> Access | None:
        """The widget's settings (allowed sites above all) are the owner's or a manager's (WIDGET)."""
        return await require_access(self, WIDGET)

    async def _fill(self, owner_id: uuid.UUID) -> None:
        async with async_session() as session:
            widget = await store.get_owned_widget(session, owner_id=owner_id, assistant_id=uuid.UUID(self.assistant_id))
        self.enabled, self.sites = widget.enabled, "\n".join(widget.allowed_sites)
        self.title, self.operator_name, self.welcome = widget.title, widget.operator_name, widget.welcome
        self.accent_color, self.position, self.language = widget.accent_color, widget.position, widget.language
        self.show_sources, self.has_avatar = widget.show_sources, bool(widget.avatar)
        self.snippet = store.snippet(uuid.UUID(self.assistant_id))

    @rx.event
    async def load_widget(self):
        access = await self._access()
        if access is None:
            return await refusal(self)
        async with async_session() as session:
            mine = await assistants_svc.list_assistants(session, owner_id=access.business_id)
        self.assistant_options = [{"id": str(a.id), "name": a.name} for a in mine]
        if self.assistant_id not in {a["id"] for a in self.assistant_options}:
            self.assistant_id = self.assistant_options[0]["id"] if self.assistant_options else ""
        self.error = self.notice = ""
        if self.assistant_id:
            await self._fill(access.business_id)
        return None

    @rx.event
    async def select_assistant(self, value: str):
        if await self._access() is None:
            return await refusal(self)
        self.assistant_id = value
        return WidgetState.load_widget

    @rx.event
    def set_field(self, name: str, value: str | bool):
        """The form's fields, as they change (the preview follows them before saving)."""
        if name in ("enabled", "show_sources"):
            setattr(self, name, bool(value))
        elif name in ("sites", "title", "operator_name", "accent_color", "position", "welcome", "language"):
            setattr(self, name, str(value))

    @rx.event
    async def handle_save(self):
        access = await self._access()
        if access is None:
            return await refusal(self)
        self.error = self.notice = ""
        locale = await self._locale()
        try:
            async with async_session() as session:
                await store.save_widget(
                    session, owner_id=access.business_id, assistant_id=uuid.UUID(self.assistant_id),
                    enabled=self.enabled,
                    allowed_sites=self.sites.splitlines(), title=self.title, operator_name=self.operator_name,
                    accent_color=self.accent_color, position=self.position, welcome=self.welcome,
                    language=self.language, show_sources=self.show_sources)
        except store.WidgetSettingsError as error:
            self.error = text(locale, f"err_widget_{error.code}", **error.params)
            return None
        except (store.NotFound, ValueError):
            self.error = text(locale, "err_not_found")
            return None
        await self._fill(access.business_id)
        self.notice = text(locale, "widget_saved")
        return None

    @rx.event
    async def handle_avatar(self, files: list[rx.UploadFile]):
        auth = await self.get_state(AuthState)
        user = await auth.upload_user()
        if user is None or not self.assistant_id or not files:
            return
        business = await upload_business(self, user, WIDGET)
        if business is None:
            self.error = text(auth.locale, "team_refused")
            return
        self.error = self.notice = ""
        file = files[0]
        try:
            if (file.size or 0) > store.MAX_AVATAR_BYTES:  # its declared size first: never read a huge file
                raise store.WidgetSettingsError("bad_avatar")
            async with async_session() as session:
                await store.save_avatar(session, owner_id=business, assistant_id=uuid.UUID(self.assistant_id),
                                        data=await file.read())
            self.has_avatar = True
        except store.WidgetSettingsError as error:
            self.error = text(auth.locale, f"err_widget_{error.code}")
        except (store.NotFound, ValueError):
            self.error = text(auth.locale, "err_not_found")

    @rx.event
    async def remove_avatar(self):
        access = await self._access()
        if access is None:
            return await refusal(self)
        if not self.assistant_id:
            return None
        try:
            async with async_session() as session:
                await store.save_avatar(session, owner_id=access.business_id, assistant_id=uuid.UUID(self.assistant_id),
                                        data=None)
            self.has_avatar = False
        except (store.NotFound, ValueError):
            self.error = text(await self._locale(), "err_not_found")

    @rx.event
    async def copy_snippet(self):
        if await self._access() is None:
            return await refusal(self)
        return [rx.set_clipboard(self.snippet), rx.toast(text(await self._locale(), "widget_copied"))]


def _field(label_key: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(t(label_key), size="2", weight="medium"), control, spacing="1", width="100%")


def _text_input(name: str, value: rx.Var, label_key: str, max_length: int) -> rx.Component:
    return _field(label_key, rx.input(value=value, on_change=lambda v: WidgetState.set_field(name, v),
                                      max_length=max_length, id=f"widget-{name}", width="100%"))


def _form() -> rx.Component:
    return card(rx.vstack(
        rx.hstack(rx.switch(checked=WidgetState.enabled, on_change=lambda v: WidgetState.set_field("enabled", v),
                            id="widget-enabled"), rx.text(t("widget_enabled"), size="2"), align="center"),
        _field("widget_sites", rx.text_area(value=WidgetState.sites, rows="3", id="widget-sites", width="100%",
                                            on_change=lambda v: WidgetState.set_field("sites", v))),
        rx.text(t("widget_sites_hint"), size="1", color=rx.color("gray", 10)),
        rx.cond(WidgetState.sites.strip() == "",
                rx.callout.root(rx.callout.text(t("widget_no_sites_warning")), color_scheme="amber", size="1"),
                rx.fragment()),
        _text_input("title", WidgetState.title, "widget_chat_title", 80),
        _text_input("operator_name", WidgetState.operator_name, "widget_operator_name", 80),
        _field("widget_welcome", rx.text_area(value=WidgetState.welcome, max_length=1000, id="widget-welcome",
                                              on_change=lambda v: WidgetState.set_field("welcome", v), width="100%")),
        rx.hstack(
            _field("widget_accent", rx.input(type="color", value=WidgetState.accent_color, id="widget-accent",
                                             on_change=lambda v: WidgetState.set_field("accent_color", v))),
            _field("widget_position", rx.select.root(
                rx.select.trigger(id="widget-position"),
                rx.select.content(rx.select.item(t("widget_position_right"), value="right"),
                                  rx.select.item(t("widget_position_left"), value="left")),
                value=WidgetState.position, on_change=lambda v: WidgetState.set_field("position", v))),
            _field("widget_language", rx.select.root(
                rx.select.trigger(id="widget-language"),
                rx.select.content(rx.select.item(t("lang_auto"), value="auto"), rx.select.item("English", value="en"),
                                  rx.select.item("Русский", value="ru")),
                value=WidgetState.language, on_change=lambda v: WidgetState.set_field("language", v))),
            spacing="4", width="100%", wrap="wrap",
        ),
        rx.hstack(rx.switch(checked=WidgetState.show_sources, id="widget-sources",
                            on_change=lambda v: WidgetState.set_field("show_sources", v)),
                  rx.text(t("widget_show_sources"), size="2"), align="center"),
        _field("widget_avatar", rx.hstack(
            rx.upload(rx.button(t("upload"), variant="soft", size="1"), id=AVATAR_UPLOAD_ID, max_files=1,
                      accept={"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"]},
                      on_drop=WidgetState.handle_avatar(rx.upload_files(upload_id=AVATAR_UPLOAD_ID)),
                      border="0", padding="0"),
            rx.cond(WidgetState.has_avatar, rx.button(t("widget_avatar_remove"), variant="ghost", size="1",
                                                      on_click=WidgetState.remove_avatar), rx.fragment()),
            rx.text(t("widget_avatar_hint"), size="1", color=rx.color("gray", 10)), align="center")),
        rx.cond(WidgetState.error != "", error_callout(WidgetState.error, id="widget-error"), rx.fragment()),
        rx.cond(WidgetState.notice != "", rx.callout.root(rx.callout.text(WidgetState.notice), color_scheme="green",
                                                          size="1", id="widget-saved"), rx.fragment()),
        rx.button(t("save"), on_click=WidgetState.handle_save, id="widget-save"),
        spacing="3", width="100%",
    ))


def _preview() -> rx.Component:
    """The panel as visitors will see it, drawn from the form's current values (text shown as text)."""
    accent = WidgetState.accent_color
    panel = rx.vstack(
        rx.box(rx.text(rx.cond(WidgetState.title != "", WidgetState.title, "ChatAI"), weight="bold", color="white"),
               background=accent, padding="10px 12px", width="100%"),
        rx.box(rx.text(rx.cond(WidgetState.welcome != "", WidgetState.welcome, t("widget_panel_welcome")), size="2"),
               background="white", border="1px solid #e5e7eb", border_radius="12px", padding="8px 12px",
               margin="12px", max_width="85%"),
        rx.spacer(),
        rx.hstack(rx.box(t("widget_panel_input"), color=rx.color("gray", 9), flex="1", font_size="13px",
                         border="1px solid #d1d5db", border_radius="10px", padding="6px 10px"),
                  rx.box(t("widget_panel_send"), background=accent, color="white", border_radius="10px",
                         padding="6px 12px", font_size="13px"), padding="10px", width="100%"),
        width="260px", height="300px", background="#f9fafb", border_radius="14px", overflow="hidden",
        box_shadow="0 8px 30px rgba(0,0,0,.2)", spacing="0", id="widget-preview",
    )
    launcher = rx.box(width="48px", height="48px", border_radius="50%", background=accent)
    return card(rx.vstack(
        rx.text(t("widget_preview"), weight="bold"),
        rx.vstack(panel, launcher, align=rx.cond(WidgetState.position == "left", "start", "end"),
                  width="100%", padding="12px", background=rx.color("gray", 3), border_radius="12px"),
        spacing="3", width="100%",
    ))


def _snippet() -> rx.Component:
    return card(rx.vstack(
        rx.text(t("widget_snippet"), weight="bold"),
        rx.text(t("widget_snippet_hint"), size="1", color=rx.color("gray", 10)),
        rx.code_block(WidgetState.snippet, language="markup", wrap_long_lines=True, width="100%", id="widget-snippet"),
        rx.button(rx.icon("copy", size=14), t("widget_copy"), variant="soft", on_click=WidgetState.copy_snippet,
                  id="widget-copy"),
        spacing="2", width="100%",
    ))


@dashboard_page
def widget_page() -> rx.Component:
    return rx.vstack(
        page_header("widget_title", "widget_subtitle"),
        rx.cond(
            WidgetState.assistant_options.length() > 0,
            rx.vstack(
                rx.select.root(rx.select.trigger(id="widget-assistant"),
                               rx.select.content(rx.foreach(WidgetState.assistant_options,
                                                            lambda a: rx.select.item(a["name"], value=a["id"]))),
                               value=WidgetState.assistant_id, on_change=WidgetState.select_assistant),
                rx.flex(rx.box(_form(), flex="1 1 360px", min_width="0"),
                        rx.vstack(_preview(), _snippet(), flex="1 1 320px", min_width="0"),
                        gap="16px", wrap="wrap", width="100%"),
                spacing="4", width="100%",
            ),
            empty_state("globe", "no_assistants"),
        ),
        spacing="4", width="100%",
    )
