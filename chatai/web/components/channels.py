"""Which channel a conversation came from: an icon and its name (i18n), for the inbox and analytics; the
overview's figures per channel."""

from __future__ import annotations

import reflex as rx

from chatai.web.components.layout import card, t

CHANNEL_ICONS = {"telegram": "send", "web": "globe", "playground": "flask_conical", "business": "briefcase"}


def channel_badge(channel: rx.Var) -> rx.Component:
    """An icon + label; a channel this build does not know shows its stored name (never breaks the list)."""
    return rx.match(
        channel,
        *[(name, rx.badge(rx.icon(icon, size=12), t(f"channel_{name}"), color_scheme="gray", variant="soft",
                          size="1", class_name=f"channel-badge channel-{name}"))
          for name, icon in CHANNEL_ICONS.items()],
        rx.badge(channel, color_scheme="gray", variant="soft", size="1", class_name="channel-badge"),
    )


def channel_figures_card(rows: rx.Var) -> rx.Component:
    """Analytics per channel (rows: {"channel", "messages", "dialogs"} as strings), for the overview."""
    return card(
        rx.heading(t("analytics_by_channel"), size="3", margin_bottom="8px"),
        rx.vstack(rx.foreach(rows, lambda r: rx.hstack(
            channel_badge(r["channel"]), rx.spacer(),
            rx.text(t("analytics_channel_messages"), ": ", r["messages"], size="1", color=rx.color("gray", 11)),
            rx.text(t("analytics_channel_dialogs"), ": ", r["dialogs"], size="1", color=rx.color("gray", 11)),
            align="center", width="100%", class_name="channel-figures", data_channel=r["channel"])),
            spacing="2", width="100%", id="analytics-channels"),
    )
