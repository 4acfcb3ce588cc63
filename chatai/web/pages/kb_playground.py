"""The knowledge base's playground: chat with the assistant as a customer would, with the sources shown."""

from __future__ import annotations

import reflex as rx

from chatai.web.components.layout import t
from chatai.web.state.knowledge import KnowledgeState


def _bubble(m: dict) -> rx.Component:
    mine = m["role"] == "user"
    return rx.hstack(
        rx.box(
            rx.text(m["text"], white_space="pre-wrap", size="2"),
            # An icon from the UI's set, not an emoji: without an emoji font the emoji was an empty box.
            rx.cond(m["sources"] != "", rx.hstack(
                rx.icon("paperclip", size=12, flex_shrink="0", margin_top="3px", aria_label=t("sources")),
                rx.text(m["sources"], size="1"), spacing="1", align="start", color=rx.color("gray", 10),
                margin_top="6px", class_name="chat-sources"), rx.fragment()),
            rx.cond(m["meta"] != "", rx.badge(
                rx.match(m["meta"], ("llm", t("answered_by_llm")), ("qa", t("answered_by_qa")),
                         ("extractive", t("answered_by_extractive")), ("fallback", t("answered_by_fallback")),
                         m["meta"]), size="1", margin_top="6px", variant="soft"), rx.fragment()),
            bg=rx.cond(mine, rx.color("indigo", 9), rx.color("gray", 3)),
            color=rx.cond(mine, "white", rx.color("gray", 12)),
            padding="10px 14px",
            border_radius="14px",
            max_width="80%",
        ),
        justify=rx.cond(mine, "end", "start"),
        width="100%",
    )


def playground_tab() -> rx.Component:
    return rx.vstack(
        rx.text(t("playground_hint"), size="2", color=rx.color("gray", 11)),
        # auto_scroll keeps the newest message in view while an answer streams in.
        rx.auto_scroll(rx.vstack(rx.foreach(KnowledgeState.chat, _bubble), spacing="2", width="100%"),
                       width="100%", min_height="200px", max_height="480px", overflow_y="auto", padding="8px",
                       id="playground-log"),
        rx.form(
            # On a phone the buttons go under the input: beside it, in Russian, they left it ~50 px.
            rx.flex(rx.input(name="message", placeholder=t("search_placeholder"), flex="1 1 auto", min_width="0",
                             size="3", id="playground-input"),
                    rx.hstack(rx.button(t("send"), type="submit", size="3", loading=KnowledgeState.chat_busy,
                                        id="playground-send", flex="1"),
                              rx.button(t("clear"), type="button", variant="soft", color_scheme="gray", size="3",
                                        on_click=KnowledgeState.clear_chat, id="playground-clear", flex="1")),
                    # A CSS gap: "2" (a Radix step) was no gap at all and the input touched Send.
                    direction=rx.breakpoints(initial="column", sm="row"), gap="8px", width="100%"),
            on_submit=KnowledgeState.handle_chat_submit,
            reset_on_submit=True,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )

