"""Owner overview: counts, the first steps, and analytics for a period and an assistant (figures from
services/analytics.py, computed in SQL), with the unanswered-questions report whose "add as Q&A pair"
opens the knowledge base's Q&A editor prefilled (QaPrefillState, run by the knowledge page's on_load)."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta

import reflex as rx

from chatai.db.session import async_session
from chatai.services import analytics
from chatai.services import assistants as assistants_svc
from chatai.services import bots as bots_svc
from chatai.services.overview import owner_overview
from chatai.team.roles import ANALYTICS, KB_WRITE
from chatai.web import routes
from chatai.web.components.channels import channel_figures_card
from chatai.web.components.layout import card, dashboard_page, empty_state, page_header, stat_card, stat_grid, t
from chatai.web.i18n import text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState, tab_time_zone

ALL = "all"
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
SHARE_KEYS = ("qa", "llm", "extractive", "fallback", "person")
MAX_PREFILL_CHARS = 1000


def _duration(seconds: float | None, locale: str = "en") -> str:
    """A duration in the owner's language ("12.3 s", "12,3 с"): the units were English on the Russian page."""
    if seconds is None:
        return "—"
    value, unit = ((seconds, "s") if seconds < 60 else (seconds / 60, "min") if seconds < 3600
                   else (seconds / 3600, "h"))
    number = f"{value:.1f}"
    return text(locale, f"analytics_unit_{unit}", n=number.replace(".", ",") if locale == "ru" else number)


def qa_prefill_href(assistant_id: uuid.UUID, question: str) -> str:
    query = urllib.parse.urlencode({"assistant": str(assistant_id), "qa": question[:MAX_PREFILL_CHARS]})
    return f"{routes.KNOWLEDGE}?{query}"


class OverviewState(rx.State):
    assistants: int = 0
    documents: int = 0
    bots_running: int = 0
    dialogs: int = 0
    bots_connected: int = 0  # running or not: the checklist's "connect a bot" is done once one is connected
    # Analytics.
    assistant_options: list[dict[str, str]] = []
    a_assistant: str = ALL
    a_period: str = "30d"
    figures: dict[str, str] = {}
    shares: list[dict[str, str]] = []
    chart: list[dict[str, str | int]] = []
    unanswered: list[dict[str, str]] = []
    channels: list[dict[str, str]] = []  # figures per channel (services/analytics.by_channel)
    refused: bool = False  # sent here because the role may not open the page asked for (web/state/access.py)

    async def _load_analytics(self, owner_id: uuid.UUID) -> None:
        now = datetime.now(UTC)
        period = analytics.Period(since=now - timedelta(days=PERIOD_DAYS.get(self.a_period, 30)), until=now)
        assistant_id = None
        if self.a_assistant != ALL:
            if self.a_assistant not in {a["id"] for a in self.assistant_options}:
                self.a_assistant = ALL
            else:
                assistant_id = uuid.UUID(self.a_assistant)
        async with async_session() as session:
            s = await analytics.summary(session, owner_id=owner_id, period=period, assistant_id=assistant_id)
            days = await analytics.per_day(session, owner_id=owner_id, period=period, assistant_id=assistant_id,
                                           time_zone=await tab_time_zone(self))
            groups = await analytics.unanswered(session, owner_id=owner_id, period=period, assistant_id=assistant_id)
            split = await analytics.by_channel(session, owner_id=owner_id, period=period, assistant_id=assistant_id)
        self.channels = [{"channel": c.channel, "messages": str(c.messages), "dialogs": str(c.dialogs)} for c in split]
        self.figures = {"messages": str(s.messages), "dialogs": str(s.dialogs), "end_users": str(s.end_users),
                        "handoffs": str(s.handoffs), "first_response": _duration(s.median_first_response_s,
                                                                      (await self.get_state(AuthState)).locale)}
        counts = {"qa": s.by_qa, "llm": s.by_llm, "extractive": s.by_extractive, "fallback": s.by_fallback,
                  "person": s.by_person}
        self.shares = [{"key": k, "count": str(counts[k]), "pct": f"{s.share(counts[k]) * 100:.0f}"}
                       for k in SHARE_KEYS]
        self.chart = [{"day": d.day.strftime("%m-%d"), "messages": d.messages, "handoffs": d.handoffs} for d in days]
        self.unanswered = [{"question": g.question, "count": str(g.count),
                            "href": qa_prefill_href(g.assistant_id, g.question)} for g in groups]

    @rx.event
    async def load_overview(self):
        access = await require_access(self, ANALYTICS)
        if access is None:
            return await refusal(self)
        self.refused = bool(self.router.url.query_parameters.get("refused"))
        async with async_session() as session:
            o = await owner_overview(session, owner_id=access.business_id)
            mine = await assistants_svc.list_assistants(session, owner_id=access.business_id)
            self.bots_connected = await bots_svc.count_bots(session, owner_id=access.business_id)
        self.assistants, self.documents, self.bots_running, self.dialogs = (
            o.assistants, o.documents, o.bots_running, o.dialogs)
        self.assistant_options = [{"id": str(a.id), "name": a.name} for a in mine]
        await self._load_analytics(access.business_id)

    @rx.event
    async def set_analytics_assistant(self, value: str):
        access = await require_access(self, ANALYTICS)
        if access is None:
            return await refusal(self)
        self.a_assistant = value
        await self._load_analytics(access.business_id)

    @rx.event
    async def set_analytics_period(self, value: str):
        access = await require_access(self, ANALYTICS)
        if access is None:
            return await refusal(self)
        self.a_period = value if value in PERIOD_DAYS else "30d"
        await self._load_analytics(access.business_id)


class QaPrefillState(rx.State):
    """Knowledge page with ?assistant=ID&qa=QUESTION: select that assistant (when it is the signed-in
    owner's), open the Q&A tab and put the question in the editor. Kept here so the knowledge page
    does not grow; registered after its on_load in chatai.py."""

    @rx.event
    async def prefill_qa(self):
        from chatai.web.state.knowledge import KnowledgeState

        params = self.router.url.query_parameters
        question = str(params.get("qa") or "").strip()[:MAX_PREFILL_CHARS]
        wanted = str(params.get("assistant") or "")
        if not question or await require_access(self, KB_WRITE) is None:
            return None
        kb = await self.get_state(KnowledgeState)
        if wanted != kb.assistant_id and wanted in {a["id"] for a in kb.assistant_options}:
            await KnowledgeState.select_assistant.fn(kb, wanted)  # re-checks ownership itself
        if kb.assistant_id != wanted:
            return None
        # The tab content mounts only when its tab is active: switch, then fill once the input exists.
        # json.dumps makes the question a JavaScript string literal; it is set as a value, never as markup.
        return rx.call_script(
            "(() => { let tries = 0; const fill = () => {"
            " const tab = document.getElementById('tab-qa');"
            " if (tab && tab.dataset.state !== 'active') {"
            "   tab.dispatchEvent(new MouseEvent('mousedown', {bubbles: true, button: 0})); }"
            " const input = document.getElementById('qa-question');"
            f" if (input) {{ input.value = {json.dumps(question)}; input.focus(); return; }}"
            " if (tries++ < 50) setTimeout(fill, 100); }; fill(); })()"
        )


def _step(n: int, key: str, href: str, done: rx.Var) -> rx.Component:
    """A step already done shows a green tick and struck-through text (still a link: it is where to change it)."""
    return rx.link(
        rx.hstack(rx.cond(done, rx.badge(rx.icon("check", size=12), color_scheme="green", variant="solid",
                                         radius="full", title=t("first_hour_step_done")),
                          rx.badge(str(n), variant="solid", radius="full")),
                  rx.text(t(key), text_decoration=rx.cond(done, "line-through", "none"),
                          color=rx.cond(done, rx.color("gray", 10), rx.color("gray", 12))),
                  rx.spacer(), rx.icon("chevron-right", size=16), align="center", width="100%", padding_y="6px"),
        href=href, underline="none", color=rx.color("gray", 12), width="100%",
        class_name="getting-started-step", data_done=rx.cond(done, "1", "0"),
    )


def _analytics_controls() -> rx.Component:
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(min_width="180px", id="analytics-assistant"),
            rx.select.content(rx.select.item(t("analytics_all_assistants"), value=ALL),
                              rx.foreach(OverviewState.assistant_options,
                                         lambda a: rx.select.item(a["name"], value=a["id"]))),
            value=OverviewState.a_assistant, on_change=OverviewState.set_analytics_assistant,
        ),
        rx.select.root(
            rx.select.trigger(min_width="140px", id="analytics-period"),
            rx.select.content(*[rx.select.item(t(f"analytics_period_{p}"), value=p) for p in PERIOD_DAYS]),
            value=OverviewState.a_period, on_change=OverviewState.set_analytics_period,
        ),
        wrap="wrap",
    )


def _share_row(s: dict) -> rx.Component:
    label = rx.match(s["key"], *[(k, t(f"analytics_by_{k}")) for k in SHARE_KEYS], s["key"])
    return rx.hstack(
        rx.text(label, size="2", width="160px"),
        rx.box(rx.box(width=s["pct"] + "%", height="100%", bg=rx.color("indigo", 9), border_radius="3px"),
               flex="1", height="8px", bg=rx.color("gray", 4), border_radius="3px"),
        rx.text(s["pct"], "% · ", s["count"], size="1", color=rx.color("gray", 11), width="80px", text_align="right"),
        align="center", width="100%", class_name="answer-share", data_kind=s["key"],
    )


def _chart() -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key="day"),
        rx.recharts.y_axis(allow_decimals=False),
        rx.recharts.tooltip(),
        rx.recharts.legend(),
        rx.recharts.bar(data_key="messages", name=t("analytics_messages"), fill=rx.color("indigo", 9)),
        rx.recharts.bar(data_key="handoffs", name=t("analytics_handoffs"), fill=rx.color("orange", 9)),
        data=OverviewState.chart,
        width="100%",
        height=260,
    )


def _unanswered_row(u: dict) -> rx.Component:
    return rx.hstack(
        rx.text(u["question"], size="2", flex="1", min_width="0", class_name="unanswered-question"),
        rx.badge(u["count"], " ", t("analytics_times"), variant="soft"),
        rx.link(rx.button(rx.icon("plus", size=14), t("analytics_add_qa"), size="1", variant="soft"),
                href=u["href"], class_name="add-qa"),
        align="center", width="100%", padding_y="6px", border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="unanswered-row",
    )


def _analytics() -> rx.Component:
    f = OverviewState.figures
    return rx.vstack(
        rx.flex(rx.heading(t("analytics_title"), size="5"), rx.spacer(), _analytics_controls(), width="100%",
                align="center", wrap="wrap", gap="12px"),
        stat_grid(
            stat_card("analytics_messages", f["messages"], "message-square"),
            stat_card("analytics_end_users", f["end_users"], "users"),
            stat_card("analytics_handoffs", f["handoffs"], "hand"),
            stat_card("analytics_first_response", f["first_response"], "timer"),
        ),
        rx.grid(
            card(rx.heading(t("analytics_answered_by"), size="3", margin_bottom="8px"),
                 rx.text(t("analytics_dialogs"), ": ", f["dialogs"], size="1", color=rx.color("gray", 10),
                         margin_bottom="8px"),
                 rx.vstack(rx.foreach(OverviewState.shares, _share_row), spacing="2", width="100%")),
            card(rx.heading(t("analytics_per_day"), size="3", margin_bottom="8px"), _chart()),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        rx.cond(OverviewState.channels.length() > 0, channel_figures_card(OverviewState.channels), rx.fragment()),
        card(
            rx.heading(t("analytics_unanswered"), size="3"),
            rx.text(t("analytics_unanswered_hint"), size="1", color=rx.color("gray", 10), margin_bottom="8px"),
            rx.cond(OverviewState.unanswered.length() > 0,
                    rx.vstack(rx.foreach(OverviewState.unanswered, _unanswered_row), spacing="0", width="100%",
                              id="unanswered"),
                    empty_state("circle-check", "analytics_no_unanswered")),
        ),
        spacing="4",
        width="100%",
    )


@dashboard_page
def overview_page() -> rx.Component:
    return rx.vstack(
        page_header("overview_title", "overview_subtitle"),
        rx.cond(OverviewState.refused, rx.callout(t("team_refused_page"), icon="lock", color_scheme="orange",
                                                  width="100%", id="refused-notice"), rx.fragment()),
        stat_grid(
            stat_card("stat_assistants", OverviewState.assistants, "bot"),
            stat_card("stat_documents", OverviewState.documents, "file-text"),
            stat_card("stat_bots", OverviewState.bots_running, "send"),
            stat_card("stat_dialogs", OverviewState.dialogs, "messages-square"),
        ),
        card(
            rx.heading(t("getting_started"), size="4", margin_bottom="8px"),
            _step(1, "step_create_assistant", routes.ASSISTANTS, OverviewState.assistants > 0),
            _step(2, "step_upload_docs", routes.KNOWLEDGE, OverviewState.documents > 0),
            _step(3, "step_connect_bot", routes.BOTS, OverviewState.bots_connected > 0),
        ),
        _analytics(),
        spacing="5",
        width="100%",
    )
