"""The customer card beside the transcript: Telegram name, @username, language, first seen, their
conversations with this business (click to open), and the team's notes about them."""

from __future__ import annotations

import reflex as rx

from chatai.inbox_tools.access import MAX_NOTE_CHARS
from chatai.web.components.layout import card, t
from chatai.web.state.inbox import InboxState
from chatai.web.state.inbox_tools import InboxToolsState


def _field(label_key: str, value: rx.Var, id_: str) -> rx.Component:
    return rx.hstack(rx.text(t(label_key), size="1", color=rx.color("gray", 10), min_width="110px"),
                     rx.text(rx.cond(value != "", value, t("tools_customer_none")), size="2", id=id_,
                             word_break="break-all"),
                     align="baseline", width="100%")


def _dialog_link(d: dict) -> rx.Component:
    return rx.hstack(
        rx.text(d["time"], size="1", white_space="nowrap"),
        rx.text(rx.cond(d["channel"] == "playground", t("inbox_playground"), d["bot"]), size="1",
                color=rx.color("gray", 10)),
        rx.spacer(),
        rx.cond(d["current"] != "", rx.text(t("tools_customer_this"), size="1", color=rx.color("gray", 10)),
                rx.link(rx.icon("arrow-right", size=12), on_click=InboxState.open_dialog(d["id"]), href="#",
                        aria_label=t("inbox_waiting_notice_open"))),
        width="100%", align="center", class_name="customer-dialog",
    )


def _customer_note(n: dict) -> rx.Component:
    return rx.box(
        rx.hstack(rx.text(n["author"], size="1", weight="bold", word_break="break-all"),
                  rx.text(n["time"], size="1", color=rx.color("gray", 10)), spacing="2", wrap="wrap"),
        rx.text(n["text"], size="2", white_space="pre-wrap"),
        bg=rx.color("amber", 2), padding="6px 8px", border_radius="8px", width="100%", class_name="customer-note",
    )


def customer_card() -> rx.Component:
    return rx.cond(
        InboxToolsState.card.contains("name"),
        card(
            rx.vstack(
                rx.heading(t("tools_customer"), size="3"),
                _field("tools_customer_name", InboxToolsState.card["name"], "customer-name"),
                _field("tools_customer_username", InboxToolsState.card["username"], "customer-username"),
                _field("tools_customer_language", InboxToolsState.card["language"], "customer-language"),
                _field("tools_customer_first_seen", InboxToolsState.card["first_seen"], "customer-first-seen"),
                rx.hstack(rx.text(t("tools_customer_dialogs"), size="2", weight="bold"),
                          rx.badge(InboxToolsState.card["count"], radius="full"), align="center"),
                rx.vstack(rx.foreach(InboxToolsState.card_dialogs, _dialog_link), spacing="1", width="100%"),
                rx.text(t("tools_customer_notes"), size="2", weight="bold"),
                rx.vstack(rx.foreach(InboxToolsState.card_notes, _customer_note), spacing="1", width="100%"),
                rx.form(
                    rx.hstack(rx.input(name="customer_note", placeholder=t("tools_customer_note_placeholder"),
                                       max_length=MAX_NOTE_CHARS, flex="1", id="customer-note-text"),
                              rx.icon_button(rx.icon("plus", size=14), type="submit", variant="soft",
                                             aria_label=t("tools_note_add"), title=t("tools_note_add")),
                              width="100%"),
                    on_submit=InboxToolsState.handle_customer_note_submit, reset_on_submit=True, width="100%"),
                spacing="2", width="100%",
            ),
            id="customer-card",
        ),
        rx.fragment(),
    )
