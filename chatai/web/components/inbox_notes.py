"""Internal notes in the transcript (marked as such, with author and time, never styled like a message the
customer saw), the note box under the reply box, and the line saying who holds or is typing in the dialog.
Note text is rendered as text, never HTML."""

from __future__ import annotations

import reflex as rx

from chatai.inbox_tools.access import MAX_NOTE_CHARS
from chatai.web.components.layout import t
from chatai.web.state.inbox_tools import InboxToolsState


def note_bubble(m: dict) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon("lock", size=12, aria_hidden="true"),
            rx.text(t("tools_note"), size="1", weight="bold"),
            rx.text(m["operator"], size="1", word_break="break-all"),
            rx.text(m["time"], size="1", color=rx.color("gray", 10), white_space="nowrap"),
            spacing="2", align="center", wrap="wrap", row_gap="0",
        ),
        rx.text(m["text"], white_space="pre-wrap", size="2", class_name="note-text"),
        bg=rx.color("amber", 3),
        border=f"1px dashed {rx.color('amber', 8)}",
        padding="8px 12px",
        border_radius="12px",
        width="100%",
        class_name="message-note",
        data_role="note",
        title=t("tools_note_hint"),
    )


def note_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.text_area(name="note", placeholder=t("tools_note_placeholder"), id="note-text", rows="1", flex="1",
                         max_length=MAX_NOTE_CHARS, aria_label=t("tools_note")),
            rx.button(rx.icon("lock", size=14), t("tools_note_add"), type="submit", variant="soft",
                      color_scheme="amber", id="note-add"),
            width="100%", align="end",
        ),
        on_submit=InboxToolsState.handle_note_submit, reset_on_submit=True, width="100%",
    )


def presence_line() -> rx.Component:
    """Who else holds or is typing in the open dialog (live, chatai/web/state/inbox_tools_live.py)."""
    return rx.hstack(
        rx.cond(InboxToolsState.holder != "",
                rx.text(t("tools_held_by"), " ", rx.text.strong(InboxToolsState.holder), size="1",
                        id="dialog-holder"),
                rx.fragment()),
        rx.cond(InboxToolsState.typing != "",
                rx.text(InboxToolsState.typing, size="1", color=rx.color("indigo", 11), id="dialog-typing",
                        role="status"),
                rx.fragment()),
        spacing="3", wrap="wrap", width="100%",
    )


def tools_error() -> rx.Component:
    return rx.cond(InboxToolsState.tools_error != "",
                   rx.callout(InboxToolsState.tools_error, icon="triangle-alert", color_scheme="red", role="alert",
                              width="100%", size="1", id="tools-error"),
                   rx.fragment())
