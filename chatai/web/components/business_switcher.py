"""The business switcher in the dashboard sidebar: shown only to people with more than one business (their
own and those they were invited to). Choosing one reloads the dashboard for it (BusinessState.switch_business
re-checks the seat)."""

from __future__ import annotations

import reflex as rx

from chatai.web.state.access import BusinessState
from chatai.web.state.auth import AuthState


def business_switcher() -> rx.Component:
    return rx.box(
        rx.cond(
            BusinessState.choices.length() > 1,
            rx.vstack(
                rx.text(AuthState.tr["team_switch_label"], size="1", color=rx.color("gray", 10)),
                rx.select.root(
                    rx.select.trigger(width="100%", aria_label=AuthState.tr["team_switch_label"],
                                      id="business-switch"),
                    rx.select.content(rx.foreach(BusinessState.choices,
                                                 lambda c: rx.select.item(c["label"], value=c["id"]))),
                    value=rx.cond(BusinessState.business_id != "", BusinessState.business_id,
                                  BusinessState.choices[0]["id"]),
                    on_change=BusinessState.switch_business,
                    size="1",
                ),
                spacing="1", width="100%",
            ),
            rx.fragment(),
        ),
        on_mount=BusinessState.load_choices,
        width="100%",
    )
