"""The Telegram Business connections of one bot, on its card of the bots page (state: pages/bots.BotsState,
refreshed with the bots' status every POLL_SECONDS, so a revoked connection shows within seconds)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatai.web.components.layout import t

_STATE_COLORS = {"answering": "green", "cannot_reply": "amber", "disabled": "gray", "revoked": "red"}


def connection_row(c: Any) -> rx.Component:
    """One connection: the account (name, @username), what it allows, its state. Plain text, never HTML."""
    badge = rx.match(c["state"], *[(k, rx.badge(t(f"business_state_{k}"), color_scheme=color))
                                   for k, color in _STATE_COLORS.items()], rx.badge(c["state"]))
    return rx.hstack(
        rx.icon("briefcase", size=14),
        rx.text(t("business_account"), ": ", c["name"],
                rx.cond(c["username"] != "", " (@" + c["username"] + ")", ""), size="2", weight="medium"),
        rx.text("·", size="2", color=rx.color("gray", 9)),
        rx.text(rx.cond(c["can_reply"] == "1", t("business_may_reply"), t("business_may_not_reply")), size="2"),
        rx.spacer(),
        rx.box(badge, class_name="business-state"),
        align="center",
        width="100%",
        wrap="wrap",
        class_name="business-connection",
        data_state=c["state"],
    )


def business_section(bot: Any, rows: Any) -> rx.Component:
    """Shown only for a bot some account connected (`bot["business"]`: how many), so a bot with none keeps its
    card short; `rows` are every connection of the owner's bots, each with its "bot_id"."""
    return rx.cond(
        bot["business"] != "0",
        rx.vstack(
            rx.text(t("business_title"), size="2", weight="bold"),
            rx.foreach(rows, lambda c: rx.cond(c["bot_id"] == bot["id"], connection_row(c), rx.fragment())),
            rx.text(t("business_chats"), size="1", color=rx.color("gray", 10)),
            spacing="1",
            width="100%",
            class_name="business-connections",
        ),
        rx.fragment(),
    )


def connection_dict(view: Any) -> dict[str, str]:
    """A business.connections.ConnectionView as the page shows it (strings only)."""
    return {"bot_id": str(view.bot_id), "name": view.user_name, "username": view.username, "state": view.state,
            "can_reply": "1" if view.can_reply else "0"}
