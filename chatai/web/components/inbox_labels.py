"""Labels in the inbox: the list filter, chips on listed dialogs, the open dialog's labels (add / remove), and
the manager (create, rename, recolour, delete) in a dialog window."""

from __future__ import annotations

import reflex as rx

from chatai.inbox_tools.labels import COLORS, MAX_NAME_CHARS
from chatai.web.components.layout import t
from chatai.web.state.inbox_tools import ALL, InboxToolsState


def _chip(label: dict, **props) -> rx.Component:
    return rx.badge(label["name"], color_scheme=_color(label), variant="soft", size="1", class_name="dialog-label",
                    **props)


def label_filter() -> rx.Component:
    return rx.vstack(
        rx.text(t("tools_label_filter"), size="1", color=rx.color("gray", 10)),
        rx.select.root(
            rx.select.trigger(min_width="112px", id="filter-label"),
            rx.select.content(rx.select.item(t("inbox_filter_all"), value=ALL),
                              rx.foreach(InboxToolsState.labels, lambda x: rx.select.item(x["name"], value=x["id"]))),
            value=InboxToolsState.f_label, on_change=InboxToolsState.set_label_filter, size="2"),
        spacing="1",
    )


def list_chips(dialog_id: rx.Var) -> rx.Component:
    return rx.hstack(rx.foreach(InboxToolsState.list_labels.get(dialog_id, []), _chip), spacing="1", wrap="wrap")


def _color(label: dict) -> rx.Var:
    return rx.match(label["color"], *[(c, c) for c in COLORS], "gray")


def _removable_chip(x: dict) -> rx.Component:
    return rx.badge(x["name"], rx.icon_button(rx.icon("x", size=10), size="1", variant="ghost",
                                              on_click=InboxToolsState.remove_label(x["id"]),
                                              aria_label=t("tools_label_remove"), title=t("tools_label_remove")),
                    color_scheme=_color(x), variant="soft", class_name="open-dialog-label")


def dialog_labels_bar() -> rx.Component:
    """The open dialog's labels, each removable, and a menu to add one."""
    return rx.hstack(
        rx.foreach(InboxToolsState.dialog_labels, _removable_chip),
        rx.menu.root(
            rx.menu.trigger(rx.button(rx.icon("tag", size=12), t("tools_label_add"), size="1", variant="ghost",
                                      id="label-add")),
            rx.menu.content(
                rx.foreach(InboxToolsState.labels, lambda x: rx.menu.item(
                    x["name"], on_click=InboxToolsState.add_label(x["id"]))),
                rx.cond(InboxToolsState.labels.length() == 0,
                        rx.menu.item(t("tools_labels_none"), disabled=True), rx.fragment()),
            ),
        ),
        spacing="2", align="center", wrap="wrap", width="100%", id="dialog-labels",
    )


def _color_select(value: rx.Var, on_change=None, name: str | None = None) -> rx.Component:
    props = {"on_change": on_change} if on_change is not None else {"default_value": "gray"}
    return rx.select.root(
        rx.select.trigger(aria_label=t("tools_label_color"), min_width="110px"),
        rx.select.content(*[rx.select.item(t(f"tools_color_{c}"), value=c) for c in COLORS]),
        **({"value": value} if on_change is not None else {}), name=name, size="1", **props)


def _label_row(x: dict) -> rx.Component:
    return rx.hstack(
        rx.form(
            rx.hstack(rx.input(name="name", default_value=x["name"], max_length=MAX_NAME_CHARS, size="1",
                               aria_label=t("tools_label_name")),
                      rx.input(name="label_id", type="hidden", value=x["id"]),
                      rx.button(t("tools_label_rename"), type="submit", size="1", variant="soft"), spacing="1"),
            on_submit=InboxToolsState.handle_label_rename),
        _color_select(x["color"], on_change=lambda c: InboxToolsState.set_label_color(x["id"], c)),
        rx.icon_button(rx.icon("trash-2", size=12), size="1", variant="ghost", color_scheme="red",
                       on_click=InboxToolsState.delete_label(x["id"]), aria_label=t("delete"), title=t("delete")),
        spacing="2", align="center", wrap="wrap", class_name="label-row",
    )


def labels_manager() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("tags", size=14), t("tools_labels_manage"), variant="soft", size="2",
                                    id="labels-manage")),
        rx.dialog.content(
            rx.dialog.title(t("tools_labels")),
            rx.vstack(
                rx.cond(InboxToolsState.labels.length() == 0, rx.text(t("tools_labels_none"), size="2"),
                        rx.vstack(rx.foreach(InboxToolsState.labels, _label_row), spacing="2")),
                rx.form(
                    rx.hstack(rx.input(name="name", placeholder=t("tools_label_name"), max_length=MAX_NAME_CHARS,
                                       id="label-name"),
                              _color_select("gray", name="color"),
                              rx.button(t("tools_label_create"), type="submit", id="label-create"), wrap="wrap"),
                    on_submit=InboxToolsState.handle_label_create, reset_on_submit=True),
                rx.cond(InboxToolsState.tools_error != "",
                        rx.text(InboxToolsState.tools_error, color=rx.color("red", 11), size="2", role="alert"),
                        rx.fragment()),
                rx.dialog.close(rx.button(t("bot_events_close"), variant="soft")),
                spacing="3",
            ),
        ),
    )
