"""The knowledge base's Q&A tab: add or edit a question and its answer, the list with edit and delete."""

from __future__ import annotations

import reflex as rx

from chatai.team.roles import KB_WRITE
from chatai.web.components.confirm import confirm_action
from chatai.web.components.layout import empty_state, t
from chatai.web.components.role_gate import only_for
from chatai.web.state.knowledge import KnowledgeState


def _qa_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.input(name="question", id="qa-question", placeholder=t("question"), required=True, width="100%"),
            rx.text_area(name="answer", id="qa-answer", placeholder=t("answer"), required=True, rows="3",
                         width="100%"),
            rx.hstack(
                rx.button(rx.cond(KnowledgeState.qa_edit_id != "", t("save"), t("add_qa")), type="submit",
                          id="qa-submit"),
                rx.cond(KnowledgeState.qa_edit_id != "",
                        rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                  on_click=KnowledgeState.cancel_qa_edit),
                        rx.fragment()),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=KnowledgeState.handle_qa_submit,
        reset_on_submit=True,
    )


def _qa_row_actions(p: dict) -> rx.Component:
    return rx.hstack(
        rx.icon_button(rx.icon("pencil", size=14), variant="soft", size="1", title=t("edit"),
                       aria_label=t("edit"), on_click=KnowledgeState.start_qa_edit(p["id"])),
        confirm_action(
            rx.icon_button(rx.icon("trash-2", size=14), variant="soft", color_scheme="red", size="1",
                           title=t("delete"), aria_label=t("delete"), class_name="delete-qa"),
            title_key="first_hour_confirm_delete_qa", subject=p["question"], loss_key="first_hour_loss_qa",
            action_key="delete", on_confirm=KnowledgeState.delete_qa_pair(p["id"])),
    )


def _qa_row(p: dict) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.vstack(rx.text(p["question"], weight="bold"),
                      rx.text(p["answer"], size="2", color=rx.color("gray", 11), white_space="pre-wrap"),
                      spacing="1", flex="1", min_width="0"),
            only_for(KB_WRITE, _qa_row_actions(p)),
            align="start",
            width="100%",
        ),
        padding_y="10px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="qa-row",
    )


def qa_tab() -> rx.Component:
    return rx.vstack(
        only_for(KB_WRITE, _qa_form()),
        rx.cond(KnowledgeState.qa_pairs.length() > 0,
                rx.vstack(rx.foreach(KnowledgeState.qa_pairs, _qa_row), spacing="0", width="100%"),
                empty_state("messages-square", "no_qa")),
        spacing="4",
        width="100%",
    )

