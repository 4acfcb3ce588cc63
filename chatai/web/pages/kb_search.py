"""The knowledge base's test-search console: what the assistant would retrieve for a question, in the
order its answer uses (chunks and Q&A pairs on one relevance scale), explained in plain words: a relevance
bar, "matched words" / "similar meaning", and the technical details (ranks, cosine) in a tooltip.
Hits with no relevance at all are not shown as matches. Above them, the verdict: would the assistant answer
with the first result, how sure it would be (rag/confidence.py's scale, the same as `kb search --json`), and
what its "How sure before answering" setting needs; below that it says it does not know and calls a person."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services import assistants as assistants_svc
from chatai.team.roles import KB_READ
from chatai.web.components.layout import t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState
from chatai.web.texts.first_hour import section_label

MIN_SHOWN_SCORE = 0.005  # "0.000" is no match at all


def hit_row(hit, threshold: float, locale: str = "en") -> dict[str, str]:
    """A SearchHit as the console shows it (strings only; user text is rendered as text, never HTML)."""
    details = " · ".join(part for part in (
        text(locale, "first_hour_debug_vector", rank=hit.vector_rank, cos=f"{hit.similarity:.3f}")
        if hit.vector_rank and hit.similarity is not None else "",
        text(locale, "first_hour_debug_fts", rank=hit.fts_rank, matched=hit.matched_terms, total=hit.query_terms)
        if hit.fts_rank else "",
        text(locale, "first_hour_debug_score", score=f"{hit.score:.3f}"),
    ) if part)
    return {
        "document": text(locale, "first_hour_qa_document") if hit.kind == "qa" else hit.document,
        "section": section_label(locale, hit.section), "text": hit.text[:1200],
        "percent": str(round(hit.score * 100)), "qa": "1" if hit.kind == "qa" else "",
        "words": "1" if hit.matched_terms else "", "meaning": "1" if hit.extra.get("similar", 0) > 0 else "",
        "below": "1" if hit.score < threshold else "", "details": details,
    }


def verdict(question: str, hits: list, certainty: str, locale: str = "en") -> dict[str, str]:
    """What the assistant would do with this question (strings only, for the console's callout)."""
    from chatai.rag.certainty import CERTAINTY_LEVELS, DEFAULT_CERTAINTY
    from chatai.rag.confidence import threshold_for, top_confidence

    certainty = certainty if certainty in CERTAINTY_LEVELS else DEFAULT_CERTAINTY
    needed = threshold_for(certainty)
    if not hits:
        return {"kind": "dont_know", "text": text(locale, "kb_search_verdict_nothing")}
    sure = top_confidence(question, hits)
    fmt = {"sure": str(round(sure * 100)), "needed": str(round(needed * 100)),
           "setting": text(locale, f"certainty_name_{certainty}")}
    if sure >= needed:
        return {"kind": "answer", "text": text(locale, "kb_search_verdict_answer", **fmt)}
    return {"kind": "dont_know", "text": text(locale, "kb_search_verdict_dont_know", **fmt)}


class KbSearchState(rx.State):
    query: str = ""
    hits: list[dict[str, str]] = []
    verdict: dict[str, str] = {}
    searched: bool = False
    reembed_notice: str = ""  # "" when no re-embedding is running
    error: str = ""

    @rx.event
    async def handle_search_submit(self, form: dict):
        from chatai.rag.reembed import reembed_progress
        from chatai.rag.retrieval import plan_query, search_knowledge
        from chatai.web.state.knowledge import KnowledgeState

        access = await require_access(self, KB_READ)
        if access is None:
            return await refusal(self)
        assistant_id = (await self.get_state(KnowledgeState)).assistant_id
        self.query = str(form.get("query", "")).strip()[:1000]
        if not self.query or not assistant_id:
            return
        try:
            async with async_session() as session:
                assistant = await assistants_svc.get_owned_assistant(session, owner_id=access.business_id,
                                                                     assistant_id=uuid.UUID(assistant_id))
                plan = await plan_query(assistant, self.query)
                hits = await search_knowledge(session, assistant=assistant, plan=plan, threshold=MIN_SHOWN_SCORE)
                progress = await reembed_progress(session, assistant_id=assistant.id)
                threshold, certainty = assistant.score_threshold, assistant.answer_certainty
                await session.rollback()
        except (assistants_svc.NotFound, ValueError):
            self.hits, self.verdict, self.searched = [], {}, False
            self.error = text((await self.get_state(AuthState)).locale, "err_not_found")
            return
        self.searched, self.error = True, ""
        locale = (await self.get_state(AuthState)).locale
        self.hits = [hit_row(h, threshold, locale) for h in hits]
        self.verdict = verdict(self.query, [h for h in hits if h.score >= threshold], certainty, locale)
        self.reembed_notice = text(locale, "kb_search_reembedding").format(
            percent=round(100 * progress[0] / max(progress[1], 1))) if progress else ""

    @rx.event
    def clear_results(self):
        self.query, self.hits, self.searched, self.reembed_notice, self.error = "", [], False, "", ""
        self.verdict = {}


def _reason(flag: rx.Var, key: str, color: str) -> rx.Component:
    return rx.cond(flag != "", rx.badge(t(key), color_scheme=color, variant="soft", size="1"), rx.fragment())


def _hit(h: dict) -> rx.Component:
    bar = rx.box(rx.box(width=h["percent"] + "%", height="100%", bg=rx.color("indigo", 9), border_radius="3px"),
                 width="90px", height="6px", bg=rx.color("gray", 4), border_radius="3px",
                 class_name="relevance-bar")
    return rx.box(
        rx.hstack(
            rx.tooltip(rx.hstack(rx.text(t("kb_search_relevance"), size="1", color=rx.color("gray", 10)), bar,
                                 align="center", spacing="2"), content=h["details"]),
            rx.text(h["document"], weight="bold", size="2"),
            rx.text(h["section"], size="2", color=rx.color("gray", 10)),
            _reason(h["qa"], "kb_search_qa", "amber"),
            _reason(h["words"], "kb_search_matched_words", "green"),
            _reason(h["meaning"], "kb_search_similar_meaning", "blue"),
            wrap="wrap", align="center",
        ),
        rx.cond(h["below"] != "", rx.text(t("kb_search_below_threshold"), size="1", color=rx.color("gray", 10),
                                          margin_top="4px"), rx.fragment()),
        rx.text(h["text"], size="2", white_space="pre-wrap", margin_top="6px"),
        padding="12px",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="10px",
        width="100%",
        opacity=rx.cond(h["below"] != "", "0.6", "1"),
        class_name="search-hit",
    )


def kb_search_tab() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.hstack(rx.input(name="query", id="search-query", placeholder=t("search_placeholder"), flex="1",
                               size="3"),
                      rx.button(t("search"), type="submit", size="3", id="search-submit"), width="100%"),
            on_submit=KbSearchState.handle_search_submit,
            width="100%",
        ),
        rx.cond(KbSearchState.error != "", rx.callout(KbSearchState.error, icon="triangle-alert", color_scheme="red",
                                                       width="100%"), rx.fragment()),
        rx.cond(KbSearchState.reembed_notice != "",
                rx.callout(KbSearchState.reembed_notice, icon="refresh-cw", width="100%", class_name="reembed-notice"),
                rx.fragment()),
        rx.cond(KbSearchState.verdict.contains("kind"),
                rx.callout(KbSearchState.verdict["text"], width="100%", class_name="search-verdict",
                           icon=rx.cond(KbSearchState.verdict["kind"] == "answer", "circle-check", "user-round"),
                           color_scheme=rx.cond(KbSearchState.verdict["kind"] == "answer", "green", "amber")),
                rx.fragment()),
        rx.cond(KbSearchState.searched & (KbSearchState.hits.length() == 0),
                rx.callout(t("no_results"), icon="info", width="100%"), rx.fragment()),
        rx.cond(KbSearchState.hits.length() > 0,
                rx.text(t("kb_search_hint"), size="1", color=rx.color("gray", 10)), rx.fragment()),
        rx.vstack(rx.foreach(KbSearchState.hits, _hit), spacing="3", width="100%"),
        spacing="4",
        width="100%",
    )
