"""The page for an address that is no page: what happened, and a way back (to the dashboard, or to
sign-in for someone signed out: "/" sends each where they belong)."""

from __future__ import annotations

import reflex as rx

from chatai.web.components.document_language import DocumentLanguageState
from chatai.web.components.layout import auth_shell, t


def not_found_page() -> rx.Component:
    return auth_shell(
        rx.vstack(
            rx.icon("map-pin-off", size=36, color=rx.color("gray", 9)),
            rx.heading("404 · ", t("first_hour_404_title"), size="6", id="not-found"),
            rx.text(t("first_hour_404_text"), color=rx.color("gray", 11), text_align="center"),
            rx.link(rx.button(rx.icon("arrow-left", size=16), t("first_hour_404_back"), size="3"), href="/",
                    id="not-found-back"),
            align="center",
            spacing="4",
            padding_y="12px",
            # Reflex runs no on_load for an unknown address in a production build: set the title on mount.
            on_mount=DocumentLanguageState.apply_document_language,
        )
    )
