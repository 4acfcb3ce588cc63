"""A confirmation before a destructive action: it names the thing and says what is lost with it."""

from __future__ import annotations

import reflex as rx

from chatai.web.components.layout import t


def confirm_action(trigger: rx.Component, *, title_key: str, subject: rx.Var | str, loss_key: str,
                   action_key: str, on_confirm, confirm_id: str = "") -> rx.Component:
    """`trigger` opens the dialog; `subject` is the name of what goes (a file name, a bot's @name);
    `loss_key` is the sentence saying what is lost. Nothing happens until the red button is pressed."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(t(title_key)),
            rx.alert_dialog.description(
                rx.vstack(rx.text(subject, weight="bold", word_break="break-word"),
                          rx.text(t(loss_key), size="2"), spacing="2"),
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(t("cancel"), variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(t(action_key), color_scheme="red", on_click=on_confirm,
                                                 class_name="confirm-action",
                                                 **({"id": confirm_id} if confirm_id else {}))),
                justify="end", spacing="3", margin_top="16px",
            ),
            max_width="460px",
        ),
    )
