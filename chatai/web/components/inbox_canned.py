"""The reply box with canned replies: typing "/" lists the business's saved replies under it (↑ ↓ to move,
Enter or a click to insert, Esc to close); the inserted text stays editable before sending. And the manager
of saved replies, in a dialog window of the inbox page."""

from __future__ import annotations

import reflex as rx

from chatai.inbox_tools.canned import MAX_BODY_CHARS, MAX_SHORTCUT_CHARS
from chatai.web.components.layout import t
from chatai.web.state.inbox import InboxState
from chatai.web.state.inbox_canned import REPLY_BOX_ID, CannedRepliesState


def _choice(reply: dict, index: int) -> rx.Component:
    chosen = index == CannedRepliesState.picker_index
    return rx.button(
        rx.vstack(rx.text("/", reply["shortcut"], weight="bold", size="1"),
                  rx.text(reply["body"], size="1", color=rx.color("gray", 11),
                          style={"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"},
                          max_width="100%"),
                  spacing="0", align="start", width="100%"),
        on_click=CannedRepliesState.choose_canned(reply["id"]),
        variant=rx.cond(chosen, "soft", "ghost"), width="100%", height="auto", padding="6px 8px",
        justify="start", type="button", role="option", aria_selected=rx.cond(chosen, "true", "false"),
        class_name="canned-choice", data_shortcut=reply["shortcut"],
    )


def canned_picker() -> rx.Component:
    return rx.cond(
        CannedRepliesState.picker_open,
        rx.box(
            rx.cond(CannedRepliesState.picker.length() > 0,
                    rx.vstack(rx.foreach(CannedRepliesState.picker, _choice), spacing="1", width="100%",
                              role="listbox", aria_label=t("tools_canned")),
                    rx.text(t("tools_canned_no_match"), size="1")),
            rx.text(t("tools_canned_keys"), size="1", color=rx.color("gray", 10), margin_top="4px"),
            border=f"1px solid {rx.color('gray', 6)}", border_radius="8px", padding="6px", width="100%",
            max_height="240px", overflow_y="auto", id="canned-picker",
        ),
        rx.fragment(),
    )


def reply_form() -> rx.Component:
    """Replaces the plain reply form of the inbox: same field name and ids, sent by InboxState."""
    return rx.vstack(
        canned_picker(),
        rx.form(
            rx.hstack(rx.text_area(name="reply", placeholder=t("inbox_reply_placeholder"), id=REPLY_BOX_ID,
                                   rows="2", flex="1", max_length=MAX_BODY_CHARS, value=CannedRepliesState.draft,
                                   on_change=CannedRepliesState.set_draft,
                                   on_key_down=CannedRepliesState.handle_reply_key),
                      rx.button(t("inbox_reply"), type="submit", id="reply-send"), width="100%", align="end"),
            on_submit=[InboxState.handle_reply_submit, CannedRepliesState.clear_draft], reset_on_submit=True,
            width="100%"),
        width="100%", spacing="1", on_mount=CannedRepliesState.load_canned,
    )


def _canned_row(reply: dict) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text("/", reply["shortcut"], weight="bold", size="2"),
                  rx.text(reply["body"], size="1", white_space="pre-wrap", color=rx.color("gray", 11)),
                  spacing="0", flex="1", min_width="0"),
        rx.icon_button(rx.icon("pencil", size=12), size="1", variant="ghost",
                       on_click=CannedRepliesState.start_edit(reply["id"]), aria_label=t("edit"), title=t("edit")),
        rx.icon_button(rx.icon("trash-2", size=12), size="1", variant="ghost", color_scheme="red",
                       on_click=CannedRepliesState.delete_canned(reply["id"]), aria_label=t("delete"),
                       title=t("delete")),
        width="100%", align="start", class_name="canned-row",
    )


def canned_manager() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("message-square-quote", size=14), t("tools_canned"), variant="soft",
                                    size="2", id="canned-manage", on_click=CannedRepliesState.load_canned)),
        rx.dialog.content(
            rx.dialog.title(t("tools_canned")),
            rx.dialog.description(t("tools_canned_hint"), size="2"),
            rx.vstack(
                rx.cond(CannedRepliesState.replies.length() == 0, rx.text(t("tools_canned_none"), size="2"),
                        rx.vstack(rx.foreach(CannedRepliesState.replies, _canned_row), spacing="2", width="100%",
                                  max_height="40vh", overflow_y="auto")),
                rx.separator(),
                rx.input(placeholder=t("tools_canned_shortcut"), value=CannedRepliesState.edit_shortcut,
                         on_change=CannedRepliesState.set_edit_shortcut, max_length=MAX_SHORTCUT_CHARS,
                         id="canned-shortcut", width="100%"),
                rx.text_area(placeholder=t("tools_canned_body"), value=CannedRepliesState.edit_body,
                             on_change=CannedRepliesState.set_edit_body, max_length=MAX_BODY_CHARS, rows="3",
                             id="canned-body", width="100%"),
                rx.cond(CannedRepliesState.canned_error != "",
                        rx.text(CannedRepliesState.canned_error, color=rx.color("red", 11), size="2", role="alert"),
                        rx.fragment()),
                rx.hstack(
                    rx.button(rx.cond(CannedRepliesState.edit_id != "", t("tools_canned_update"),
                                      t("tools_canned_create")), on_click=CannedRepliesState.save_canned,
                              id="canned-save"),
                    rx.cond(CannedRepliesState.edit_id != "",
                            rx.button(t("cancel"), variant="soft", on_click=CannedRepliesState.start_new),
                            rx.fragment()),
                    rx.spacer(),
                    rx.dialog.close(rx.button(t("bot_events_close"), variant="soft")),
                    width="100%",
                ),
                spacing="3", width="100%",
            ),
        ),
    )
