"""Knowledge base page: the assistant picker and four tabs (documents, Q&A pairs, the test-search console,
the playground), each in its own module; the state is chatai/web/state/knowledge.py."""

from __future__ import annotations

import reflex as rx

from chatai.web import routes
from chatai.web.components.layout import card, dashboard_page, empty_state, error_callout, page_header, t
from chatai.web.pages.kb_documents import documents_tab
from chatai.web.pages.kb_playground import playground_tab
from chatai.web.pages.kb_qa import qa_tab
from chatai.web.pages.kb_search import kb_search_tab
from chatai.web.state.knowledge import KnowledgeState


def _assistant_picker() -> rx.Component:
    return rx.hstack(
        rx.text(t("select_assistant"), size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(min_width="220px", id="assistant-picker"),
            rx.select.content(rx.foreach(KnowledgeState.assistant_options,
                                         lambda a: rx.select.item(a["name"], value=a["id"]))),
            value=KnowledgeState.assistant_id,
            on_change=KnowledgeState.select_assistant,
        ),
        align="center",
    )


@dashboard_page
def knowledge_page() -> rx.Component:
    return rx.vstack(
        page_header("knowledge_title", "knowledge_subtitle", _assistant_picker()),
        error_callout(KnowledgeState.error),
        rx.cond(
            KnowledgeState.assistant_id != "",
            card(rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger(t("tab_documents"), value="documents", id="tab-documents"),
                    rx.tabs.trigger(t("tab_qa"), value="qa", id="tab-qa"),
                    rx.tabs.trigger(t("tab_test"), value="test", id="tab-test"),
                    rx.tabs.trigger(t("tab_playground"), value="playground", id="tab-playground"),
                    flex_wrap="wrap",
                ),
                rx.box(rx.tabs.content(documents_tab(), value="documents"),
                       rx.tabs.content(qa_tab(), value="qa"),
                       rx.tabs.content(kb_search_tab(), value="test"),
                       rx.tabs.content(playground_tab(), value="playground"),
                       padding_top="16px"),
                default_value="documents",
            )),
            # With the way to do it: the sentence alone left a new owner to find the assistants page.
            card(empty_state("bot", "need_assistant_first"),
                 rx.center(rx.link(rx.button(rx.icon("plus", size=16), t("first_hour_bots_go_create")),
                                   href=routes.ASSISTANTS, id="knowledge-go-create"), width="100%")),
        ),
        width="100%",
    )

