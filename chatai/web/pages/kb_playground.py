"""The knowledge base's playground: chat with the assistant as a customer would, with the sources shown.
The conversation goes through the same pipeline as Telegram (channel "playground", never charged) and is
kept: a reload shows it again; "New conversation" starts another. State: chatai/web/state/playground.py."""

from __future__ import annotations

import reflex as rx

from chatai.web.components.layout import t
from chatai.web.state.knowledge import KnowledgeState
from chatai.web.state.playground import PlaygroundState


def _bubble(m: dict) -> rx.Component:
    mine = m["role"] == "user"
    event = m["role"] == "system"
    return rx.cond(
        event,
        rx.text(m["text"], size="1", color=rx.color("gray", 10), text_align="center", width="100%",
                class_name="chat-event"),
        rx.hstack(
            rx.box(
                rx.cond(m["role"] == "operator", rx.text(t("inbox_role_operator"), size="1", weight="bold"),
                        rx.fragment()),
                rx.text(m["text"], white_space="pre-wrap", size="2"),
                # An icon from the UI's set, not an emoji: without an emoji font the emoji was an empty box.
                rx.cond(m["sources"] != "", rx.hstack(
                    rx.icon("paperclip", size=12, flex_shrink="0", margin_top="3px", aria_label=t("sources")),
                    rx.text(m["sources"], size="1"), spacing="1", align="start", color=rx.color("gray", 10),
                    margin_top="6px", class_name="chat-sources"), rx.fragment()),
                rx.cond(m["meta"] != "", rx.badge(
                    rx.match(m["meta"], ("llm", t("answered_by_llm")), ("qa", t("answered_by_qa")),
                             ("extractive", t("answered_by_extractive")), ("fallback", t("answered_by_fallback")),
                             ("greeting", t("inbox_answered_greeting")), ("notice", t("inbox_answered_notice")),
                             m["meta"]), size="1", margin_top="6px", variant="soft"), rx.fragment()),
                bg=rx.cond(mine, rx.color("indigo", 9), rx.cond(m["role"] == "operator", rx.color("green", 3),
                                                                   rx.color("gray", 3))),
                color=rx.cond(mine, "white", rx.color("gray", 12)),
                padding="10px 14px",
                border_radius="14px",
                max_width="80%",
            ),
            justify=rx.cond(mine, "end", "start"),
            width="100%",
        ),
    )


def _load_with_assistant() -> rx.Component:
    """Invisible; remounted (a new key) when the assistant changes, and mounting loads its conversation."""
    return rx.fragment(rx.box(on_mount=PlaygroundState.load_playground, display="none"),
                       key=KnowledgeState.assistant_id)


def playground_tab() -> rx.Component:
    return rx.vstack(
        _load_with_assistant(),
        rx.text(t("playground_hint"), size="2", color=rx.color("gray", 11)),
        rx.text(t("playground_kept"), size="1", color=rx.color("gray", 10)),
        # auto_scroll keeps the newest message in view while an answer streams in.
        rx.auto_scroll(rx.vstack(rx.foreach(PlaygroundState.chat, _bubble), spacing="2", width="100%"),
                       width="100%", min_height="200px", max_height="480px", overflow_y="auto", padding="8px",
                       id="playground-log"),
        rx.cond(PlaygroundState.waiting, rx.callout(t("playground_waiting"), icon="user", size="1",
                                                    id="playground-waiting"), rx.fragment()),
        rx.form(
            # On a phone the buttons go under the input: beside it, in Russian, they left it ~50 px.
            rx.flex(rx.input(name="message", placeholder=t("search_placeholder"), flex="1 1 auto", min_width="0",
                             size="3", id="playground-input"),
                    rx.hstack(rx.button(t("send"), type="submit", size="3", loading=PlaygroundState.chat_busy,
                                        id="playground-send", flex="1"),
                              rx.button(t("playground_new"), type="button", variant="soft", color_scheme="gray",
                                        size="3", on_click=PlaygroundState.new_conversation, id="playground-clear",
                                        flex="1")),
                    # A CSS gap: "2" (a Radix step) was no gap at all and the input touched Send.
                    direction=rx.breakpoints(initial="column", sm="row"), gap="8px", width="100%"),
            on_submit=PlaygroundState.handle_chat_submit,
            reset_on_submit=True,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )
