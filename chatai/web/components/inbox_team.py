"""The team parts of the inbox page (chatai/web/pages/inbox.py): the "mine / unassigned / all" filter, who a
dialog is assigned to in the list, and the assign / take controls of the open dialog. Their state is
chatai/web/state/inbox_team.py (mixed into InboxState)."""

from __future__ import annotations

import reflex as rx

from chatai.team.assignment import SCOPES
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox import InboxState
from chatai.web.state.inbox_team import UNASSIGNED


def t(key: str) -> rx.Var:
    return AuthState.tr[key]


def scope_filter() -> rx.Component:
    return rx.vstack(
        rx.text(t("team_assignee"), size="1", color=rx.color("gray", 10)),
        rx.select.root(rx.select.trigger(min_width="112px", id="filter-scope"),
                       rx.select.content(*[rx.select.item(t(f"team_scope_{s}"), value=s) for s in SCOPES]),
                       value=InboxState.f_scope, on_change=InboxState.set_filter_scope, size="2"),
        spacing="1",
    )


def assignee_badge(d: dict) -> rx.Component:
    # Shrinks with an ellipsis (an address can be long): the row's time must keep its place on a phone.
    return rx.cond(d["assignee"] != "",
                   rx.badge(rx.icon("user", size=11),
                            rx.text(rx.cond(d["mine"] == "1", t("team_assigned_to_you"), d["assignee"]),
                                    style={"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"},
                                    class_name="dialog-assignee"),
                            title=d["assignee"], color_scheme=rx.cond(d["mine"] == "1", "indigo", "gray"),
                            size="1", max_width="140px", min_width="0", flex_shrink="1"),
                   rx.fragment())


def assign_bar() -> rx.Component:
    header = InboxState.header
    return rx.hstack(
        rx.text(t("team_assignee"), size="1", color=rx.color("gray", 10)),
        rx.select.root(
            rx.select.trigger(min_width="180px", id="assign-select", aria_label=t("team_assignee")),
            rx.select.content(rx.select.item(t("team_assign_nobody"), value=UNASSIGNED),
                              rx.foreach(InboxState.people_options,
                                         lambda p: rx.select.item(p["email"], value=p["id"]))),
            value=rx.cond(header["assignee_id"] != "", header["assignee_id"], UNASSIGNED),
            on_change=InboxState.assign_open_dialog, size="1"),
        rx.cond(header["mine"] != "1",
                rx.button(t("team_take"), size="1", variant="soft", on_click=InboxState.take_open_dialog,
                          id="assign-take"),
                rx.fragment()),
        align="center", spacing="2", wrap="wrap", width="100%",
    )
