"""The inbox page: filters and the conversation list, the transcript of the open one with take over /
reply / release, one side at a time on a phone. Message text is only ever rendered as text. The state is
chatai/web/state/inbox.py.
"""

from __future__ import annotations

import reflex as rx

from chatai.conversation.channel import CHANNELS
from chatai.services import inbox as inbox_svc
from chatai.team.roles import INBOX_SETUP
from chatai.web import routes
from chatai.web.components.channels import channel_badge
from chatai.web.components.inbox_canned import canned_manager, reply_form
from chatai.web.components.inbox_customer import customer_card
from chatai.web.components.inbox_labels import dialog_labels_bar, label_filter, labels_manager, list_chips
from chatai.web.components.inbox_notes import note_bubble, note_form, presence_line, tools_error
from chatai.web.components.inbox_team import assign_bar, assignee_badge, scope_filter
from chatai.web.components.layout import card, dashboard_page, empty_state, error_callout, page_header, t
from chatai.web.components.role_gate import only_for
from chatai.web.state.inbox import ALL, EVENT_CODES, PERIODS, InboxState
from chatai.web.state.inbox_tools import InboxToolsState

TRANSCRIPT_DESKTOP_HEIGHT = "max(200px, calc(100vh - 600px))"
_STATUS_COLOR = {"ai": "indigo", "waiting": "orange", "human": "green"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(key, rx.badge(t(f"inbox_status_{key}"), color_scheme=color, class_name="dialog-status"))
          for key, color in _STATUS_COLOR.items()],
        rx.badge(status),
    )


def event_text(code: rx.Var) -> rx.Component:
    return rx.match(code, *[(c, t(f"inbox_event_{c}")) for c in EVENT_CODES], code)


def answered_by_badge(by: rx.Var) -> rx.Component:
    keys = {"llm": "answered_by_llm", "qa": "answered_by_qa", "extractive": "answered_by_extractive",
            "fallback": "answered_by_fallback", "operator": "inbox_answered_operator",
            "greeting": "inbox_answered_greeting", "notice": "inbox_answered_notice"}
    return rx.cond(by != "", rx.badge(rx.match(by, *[(k, t(v)) for k, v in keys.items()], by), size="1",
                                      variant="soft", class_name="answered-by"), rx.fragment())


def _select(label_key: str, value: rx.Var, on_change, items: rx.Component, id_: str) -> rx.Component:
    return rx.vstack(
        rx.text(t(label_key), size="1", color=rx.color("gray", 10)),
        rx.select.root(rx.select.trigger(min_width="112px", id=id_), items, value=value, on_change=on_change,
                       size="2"),
        spacing="1",
    )


def _filters() -> rx.Component:
    # Narrow selects: the seven filters fit one row at 1280 px, so the open conversation's reply box stays
    # above the fold (tests/e2e/test_desktop_layout.py).
    all_item = rx.select.item(t("inbox_filter_all"), value=ALL)
    return rx.flex(
        _select("inbox_filter_assistant", InboxState.f_assistant, InboxState.set_filter_assistant,
                rx.select.content(all_item, rx.foreach(InboxState.assistant_options,
                                                       lambda a: rx.select.item(a["name"], value=a["id"]))),
                "filter-assistant"),
        _select("inbox_filter_bot", InboxState.f_bot, InboxState.set_filter_bot,
                rx.select.content(all_item, rx.foreach(InboxState.bot_options,
                                                       lambda b: rx.select.item(b["name"], value=b["id"]))),
                "filter-bot"),
        _select("inbox_filter_status", InboxState.f_status, InboxState.set_filter_status,
                rx.select.content(all_item, *[rx.select.item(t(f"inbox_status_{s}"), value=s)
                                              for s in inbox_svc.STATUSES]),
                "filter-status"),
        _select("channel_filter", InboxState.f_channel, InboxState.set_filter_channel,
                rx.select.content(all_item, *[rx.select.item(t(f"channel_{c}"), value=c) for c in CHANNELS]),
                "filter-channel"),
        _select("inbox_filter_period", InboxState.f_period, InboxState.set_filter_period,
                rx.select.content(rx.select.item(t("inbox_period_all"), value=ALL),
                                  *[rx.select.item(t(f"inbox_period_{p}"), value=p) for p in PERIODS]),
                "filter-period"),
        label_filter(),
        scope_filter(),
        rx.form(
            rx.hstack(rx.input(name="search", placeholder=t("inbox_search_placeholder"), id="inbox-search",
                               min_width="180px"),
                      rx.icon_button(rx.icon("search", size=16), type="submit", variant="soft",
                                     aria_label=t("search"), title=t("search"))),
            on_submit=InboxState.handle_search_submit,
            align_self="end",
        ),
        # inbox tools (issue 23): keeping the label set and saved replies is the owner's or a manager's
        only_for(INBOX_SETUP, rx.hstack(labels_manager(), canned_manager(), spacing="2", align_self="end")),
        gap="12px",
        wrap="wrap",
        align="end",
        width="100%",
    )


def _preview(d: dict) -> rx.Component:
    return rx.text(
        rx.cond(d["preview_role"] == "system", event_text(d["preview"]), d["preview"]),
        size="1", color=rx.color("gray", 11),
        style={"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}, width="100%",
        class_name="dialog-preview",
    )


def _dialog_item(d: dict) -> rx.Component:
    active = d["id"] == InboxState.open_id
    return rx.box(
        rx.hstack(
            rx.text(rx.cond(d["user_name"] != "", d["user_name"], t("inbox_unknown_user")), weight="bold", size="2",
                    class_name="dialog-user", trim="both"),
            channel_badge(d["channel"]),
            rx.cond(d["bot"] != "", rx.text(d["bot"], size="1", color=rx.color("gray", 10)), rx.fragment()),
            rx.spacer(),
            rx.cond(d["unread"] != "0", rx.badge(d["unread"], radius="full", variant="solid", size="1",
                                                 class_name="dialog-unread"), rx.fragment()),
            align="center", width="100%",
        ),
        _preview(d),
        rx.hstack(status_badge(d["status"]), rx.text(d["assistant"], size="1", color=rx.color("gray", 10)),
                  assignee_badge(d), rx.spacer(),
                  rx.text(d["time"], size="1", color=rx.color("gray", 10), white_space="nowrap",
                          class_name="dialog-time"), align="center", width="100%"),
        list_chips(d["id"]),
        on_click=InboxState.open_dialog(d["id"]),
        padding="10px 12px",
        border_radius="10px",
        cursor="pointer",
        bg=rx.cond(active, rx.color("indigo", 3), "transparent"),
        _hover={"bg": rx.color("gray", 3)},
        width="100%",
        class_name="dialog-item",
        data_dialog=d["id"],
    )


def _unfiltered() -> rx.Var:
    return ((InboxState.f_assistant == ALL) & (InboxState.f_bot == ALL) & (InboxState.f_status == ALL)
            & (InboxState.f_period == ALL) & (InboxState.search == "") & (InboxState.f_label == ALL)
            & (InboxState.f_scope == "all"))


def _no_dialogs_yet() -> rx.Component:
    """A new owner's empty inbox says why it is empty and what to do ("no match for these filters" with no
    filter set said neither)."""
    return rx.vstack(
        empty_state("inbox", "inbox_none_yet"),
        rx.cond(InboxState.bot_options.length() == 0,
                rx.center(rx.link(rx.button(rx.icon("plug", size=16), t("connect_bot")), href=routes.BOTS,
                                  id="inbox-connect-bot"), width="100%"),
                rx.fragment()),
        width="100%", id="inbox-empty",
    )


def _dialog_list() -> rx.Component:
    return rx.vstack(
        rx.cond(InboxState.dialogs.length() > 0,
                rx.vstack(rx.foreach(InboxState.dialogs, _dialog_item), spacing="1", width="100%", id="dialog-list"),
                rx.cond(_unfiltered(), _no_dialogs_yet(), empty_state("inbox", "inbox_no_match"))),
        rx.cond(InboxState.next_cursor != "",
                rx.button(t("inbox_load_more"), variant="soft", width="100%", on_click=InboxState.load_more,
                          id="load-more"),
                rx.fragment()),
        spacing="2",
        width="100%",
    )


def _bubble(m: dict) -> rx.Component:
    is_user = m["role"] == "user"
    is_operator = m["role"] == "operator"
    body = rx.box(
        rx.hstack(
            rx.text(rx.match(m["role"], ("user", t("inbox_role_user")), ("assistant", t("inbox_role_assistant")),
                             ("operator", t("inbox_role_operator")), m["role"]), size="1", weight="bold"),
            rx.cond(is_operator & (m["operator"] != ""), rx.text(m["operator"], size="1", word_break="break-all"),
                    rx.fragment()),
            rx.text(m["time"], size="1", color=rx.color("gray", 10), white_space="nowrap"),
            # Wraps: an operator's email and the time overflowed a phone-wide bubble.
            spacing="2", align="center", wrap="wrap", row_gap="0",
        ),
        # Plain text, never HTML: whatever a customer typed shows as typed.
        rx.text(m["text"], white_space="pre-wrap", size="2", class_name="message-text"),
        # An icon of the UI's set: an emoji showed as an empty box where no emoji font is installed.
        rx.cond(m["sources"] != "", rx.hstack(
            rx.icon("paperclip", size=12, flex_shrink="0", margin_top="3px", aria_label=t("sources")),
            rx.text(m["sources"], size="1"), spacing="1", align="start", color=rx.color("gray", 10),
            margin_top="4px", class_name="message-sources"), rx.fragment()),
        rx.cond(m["role"] == "assistant", answered_by_badge(m["answered_by"]), rx.fragment()),
        rx.cond(m["delivery"] == "pending", rx.text(t("inbox_sending"), size="1", color=rx.color("gray", 10),
                                                    class_name="delivery-pending"), rx.fragment()),
        rx.cond(m["delivery"] == "failed", rx.text(t("inbox_failed"), " ", m["delivery_error"], size="1",
                                                   color=rx.color("red", 11), class_name="delivery-failed"),
                rx.fragment()),
        bg=rx.cond(is_user, rx.color("gray", 3), rx.cond(is_operator, rx.color("green", 3), rx.color("indigo", 3))),
        padding="8px 12px",
        border_radius="12px",
        max_width="85%",
    )
    message = rx.cond(
        m["role"] == "system",
        rx.center(rx.text(event_text(m["text"]), " · ", m["time"], size="1", color=rx.color("gray", 10),
                          class_name="system-notice"), width="100%"),
        rx.hstack(body, justify=rx.cond(is_user, "start", "end"), width="100%", class_name="message",
                  data_role=m["role"]),
    )
    return rx.cond(m["role"] == "note", note_bubble(m), message)  # an internal note (inbox_notes.py)


def _handoff_bar() -> rx.Component:
    status = InboxState.header["status"]
    held_by = InboxState.header["held_by"]
    return rx.vstack(
        rx.hstack(
            rx.cond(status == "waiting", rx.text(t("inbox_waiting_hint"), size="2", color=rx.color("orange", 11)),
                    rx.fragment()),
            rx.cond((status == "human") & (held_by == "me"), rx.text(t("inbox_held_by_you"), size="2"),
                    rx.fragment()),
            rx.cond((status == "human") & (held_by == "other"), rx.text(t("inbox_held_by_other"), size="2"),
                    rx.fragment()),
            rx.cond((status == "human") & (held_by == "telegram"),  # issue 22: held from the operator chat
                    rx.text(t("inbox_held_in_telegram"), " ", rx.text.strong(InboxState.header["telegram_holder"]),
                            size="2", id="held-in-telegram"),
                    rx.fragment()),
            rx.spacer(),
            rx.cond(status != "human", rx.button(rx.icon("hand", size=14), t("inbox_take_over"),
                                                 on_click=InboxState.take_over, id="take-over"), rx.fragment()),
            rx.cond((status == "human") & ((held_by == "me") | (held_by == "telegram")),
                    rx.button(rx.icon("bot", size=14), t("inbox_release"), variant="soft",
                              on_click=InboxState.release, id="release"),
                    rx.fragment()),
            width="100%", align="center", wrap="wrap",
        ),
        presence_line(),
        rx.cond((status == "human") & (held_by == "me"), reply_form(), rx.fragment()),
        note_form(),
        tools_error(),
        width="100%",
        spacing="2",
    )


def _transcript() -> rx.Component:
    return rx.cond(
        InboxState.open_id != "",
        rx.vstack(
            rx.hstack(
                rx.icon_button(rx.icon("arrow-left", size=16), variant="ghost",
                               on_click=[InboxState.close_dialog, InboxToolsState.leave_dialog],
                               aria_label=t("bot_events_close"), title=t("bot_events_close"), id="close-dialog"),
                rx.vstack(rx.text(rx.cond(InboxState.header["user_name"] != "", InboxState.header["user_name"],
                                          t("inbox_unknown_user")), weight="bold", id="transcript-user"),
                          rx.text(InboxState.header["bot"], " ", InboxState.header["assistant"], size="1",
                                  color=rx.color("gray", 10)),
                          spacing="0"),
                rx.spacer(),
                rx.box(status_badge(InboxState.header["status"]), id="transcript-status"),
                align="center", width="100%",
            ),
            dialog_labels_bar(),
            rx.cond(InboxState.earlier > 0, rx.text(t("inbox_earlier"), " ", InboxState.earlier, size="1",
                                                    color=rx.color("gray", 10)), rx.fragment()),
            # auto_scroll keeps the newest message in view (an operator's own reply landed out of sight).
            # On a desktop the transcript leaves room for the page's header and filters above it and the reply
            # box below: at 1280x800 the reply box sat below the fold (60vh of transcript).
            rx.auto_scroll(rx.vstack(rx.foreach(InboxState.transcript, _bubble), spacing="2", width="100%"),
                           width="100%", id="transcript", overflow_y="auto", padding="4px",
                           max_height=rx.breakpoints(initial="60vh", md=TRANSCRIPT_DESKTOP_HEIGHT)),
            _handoff_bar(),
            assign_bar(),  # under the reply box: it must not push take-over and replying below a phone's fold
            spacing="3",
            width="100%",
        ),
        empty_state("message-square", "inbox_pick_dialog"),
    )


def _narrow_side(*children: rx.Component, shown_while_open: bool, **props) -> rx.Component:
    """On a phone (one column, below Radix's md breakpoint of 1024 px) the inbox shows one side at a time, as
    a messaging app does: the filters and the list, or the open conversation (it opened below the fold), with
    the back arrow between them; no "pick a conversation" card under the list."""
    shown = (InboxState.open_id != "") if shown_while_open else (InboxState.open_id == "")
    return rx.box(*children, style={"@media (max-width: 1023.98px)": {"display": rx.cond(shown, "block", "none")}},
                  width="100%", **props)


@dashboard_page
def inbox_page() -> rx.Component:
    return rx.vstack(
        page_header("inbox_title", "inbox_subtitle"),
        _narrow_side(_filters(), shown_while_open=False),
        error_callout(InboxState.error, id="inbox-error"),
        rx.grid(
            _narrow_side(card(_dialog_list(), max_height="75vh", overflow_y="auto"), shown_while_open=False),
            _narrow_side(rx.vstack(card(_transcript()), customer_card(), spacing="4", width="100%"),
                         shown_while_open=True, id="transcript-side"),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )
