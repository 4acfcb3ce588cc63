"""Sections whose features come in later issues: the shell is there, with an honest empty state."""

from __future__ import annotations

import reflex as rx

from chatai.web.components.layout import card, dashboard_page, empty_state, page_header


@dashboard_page
def inbox_page() -> rx.Component:
    return rx.vstack(page_header("inbox_title", "inbox_subtitle"), card(empty_state("inbox", "no_dialogs")),
                     width="100%")


@dashboard_page
def billing_page() -> rx.Component:
    return rx.vstack(page_header("billing_title", "billing_subtitle"), card(empty_state("wallet", "billing_soon")),
                     width="100%")
