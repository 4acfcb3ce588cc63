"""Billing page: balance, answers left, top-up (presets or custom), promo code, ledger with filters and CSV
export, spend per day. Every handler re-checks the session; nothing here can credit a balance by itself
(top-ups are credited only when the payment provider confirms them, see services/payments)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import reflex as rx

from chatai.db.models import utcnow
from chatai.db.session import async_session
from chatai.formatting import format_money, format_time
from chatai.services import billing, billing_history, promo
from chatai.services.billing import BillingError
from chatai.services.payments import get_provider, refresh_pending, start_topup
from chatai.settings import get_settings
from chatai.team.roles import BILLING, Access
from chatai.web import routes
from chatai.web.components.layout import (
    card,
    dashboard_page,
    error_callout,
    page_header,
    stat_card,
    stat_grid,
    success_callout,
    t,
)
from chatai.web.i18n import EN, text
from chatai.web.state.access import refusal, require_access
from chatai.web.state.auth import AuthState

# The kinds an owner filters by (holds of answers in progress are not shown: services/billing_history.py).
KINDS = billing_history.OWNER_KINDS
PERIODS = ("7", "30", "90", "365")
BILLING_RETURN = routes.BILLING + "/return"  # where the payment page sends the owner back


class BillingState(rx.State):
    balance: str = ""
    reserved: str = ""
    answers_left: str = ""
    currency: str = ""
    price_note: str = ""  # what one answer costs, in words
    presets: list[dict[str, str]] = []  # {"amount": "500", "label": "₽500.00"}
    confirm_amount: str = ""  # a preset pressed, waiting for "Pay" in the confirmation (it went straight on)
    confirm_text: str = ""
    custom_amount: str = ""
    promo_code: str = ""
    kind: str = "all"
    period: str = "30"
    entries: list[dict[str, str]] = []
    spend: list[dict[str, str | float]] = []
    error: str = ""
    notice: str = ""

    async def _locale(self) -> str:
        return (await self.get_state(AuthState)).locale

    async def _reload(self, access: Access) -> None:
        """The business's money, its times on the asking person's clock."""
        since = utcnow() - timedelta(days=int(self.period if self.period in PERIODS else "30"))
        business, time_zone = access.business_id, access.time_zone
        async with async_session() as session:
            view = await billing.get_balance(session, user_id=business)
            rows = await billing_history.history(session, user_id=business, kind=self.kind, since=since)
            spend = await billing.spend_per_day(session, user_id=business, days=30, time_zone=time_zone)
            prices = await billing.current_prices(session)
        locale = await self._locale()
        self.balance = format_money(view.balance_micros, view.currency, locale)
        self.reserved = format_money(view.reserved_micros, view.currency, locale)
        left = view.answers_left
        self.answers_left = "" if left is None else str(left)
        self.currency = view.currency
        self.presets = [{"amount": amount, "label": format_money(billing.to_micros(amount), view.currency, locale)}
                        for amount in _preset_amounts()]
        self.price_note = price_note(locale, answer=prices["answer"], qa=prices["qa_answer"], currency=view.currency)
        self.entries = [entry_dict(locale, e, currency=view.currency, time_zone=time_zone) for e in rows]
        self.spend = [{"day": day[5:], "spent": float(billing.format_amount(micros))} for day, micros in spend]

    @rx.event
    async def load_billing(self):
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        self.error = self.notice = ""
        self.confirm_amount = self.confirm_text = ""
        await self._reload(access)

    @rx.event
    async def load_billing_return(self):
        """Back from the payment page: ask the provider (the notification may be late or unreachable)."""
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        async with async_session() as session:
            outcomes = await refresh_pending(session, user_id=access.business_id, provider=get_provider())
        locale = await self._locale()
        self.error = ""
        key = "billing_return_credited" if "credited" in outcomes else "billing_return_success"
        self.notice = text(locale, key)
        await self._reload(access)

    def _error_text(self, locale: str, code: str) -> str:
        s = get_settings()
        key = f"billing_err_{code}"
        return text(locale, key if key in EN else "billing_err_generic",
                    **({"min": format_money(billing.to_micros(f"{s.topup_min:.2f}"), s.billing_currency, locale),
                        "max": format_money(billing.to_micros(f"{s.topup_max:.2f}"), s.billing_currency, locale),
                        "currency": s.billing_currency}
                       if code in ("amount_too_small", "amount_too_large", "invalid_amount") else {}))

    async def _topup(self, amount: str):
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        locale = await self._locale()
        self.error = self.notice = ""
        try:
            micros = billing.to_micros(amount)
            async with async_session() as session:
                url = await start_topup(session, user_id=access.business_id, amount_micros=micros,
                                        return_url=get_settings().public_url.rstrip("/") + BILLING_RETURN,
                                        provider=get_provider())
        except BillingError as exc:
            self.error = self._error_text(locale, exc.code)
            return None
        return rx.redirect(url)  # another host: the browser leaves for the payment page in this tab

    @rx.event
    async def topup_preset(self, amount: str):
        """A preset button asks first ("Pay ₽500.00?"): one tap used to leave for the payment page."""
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        locale = await self._locale()
        self.error = self.notice = ""
        if amount not in _preset_amounts():
            self.confirm_amount = self.confirm_text = ""
            self.error = self._error_text(locale, "invalid_amount")
            return None
        self.confirm_amount = amount
        self.confirm_text = text(locale, "billing_topup_confirm",
                                 amount=format_money(billing.to_micros(amount), self.currency or
                                                     get_settings().billing_currency, locale))
        return None

    @rx.event
    async def confirm_topup(self):
        amount, self.confirm_amount, self.confirm_text = self.confirm_amount, "", ""
        if amount not in _preset_amounts():  # nothing pending (a second click, another tab's state)
            return None
        return await self._topup(amount)

    @rx.event
    def cancel_topup(self):
        self.confirm_amount = self.confirm_text = ""

    @rx.event
    async def handle_topup_submit(self, form: dict):
        return await self._topup(str(form.get("amount", ""))[:20])

    @rx.event
    async def handle_promo_submit(self, form: dict):
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        locale = await self._locale()
        self.error = self.notice = ""
        client = (await self.get_state(AuthState)).client()
        try:
            async with async_session() as session:
                credited = await promo.redeem(session, user_id=access.business_id, code=str(form.get("code", ""))[:40],
                                              client=client)
                await session.commit()
        except promo.PromoThrottled as exc:
            self.error = text(locale, "billing_err_promo_throttled", minutes=exc.retry_minutes)
        except BillingError as exc:
            self.error = self._error_text(locale, exc.code)
        else:
            self.notice = text(locale, "billing_promo_done",
                               amount=format_money(credited, get_settings().billing_currency, locale))
        await self._reload(access)

    @rx.event
    async def set_kind(self, value: str):
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        self.kind = value if value in KINDS else "all"
        await self._reload(access)

    @rx.event
    async def set_period(self, value: str):
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        self.period = value if value in PERIODS else "30"
        await self._reload(access)

    @rx.event
    async def export_csv(self):
        access = await require_access(self, BILLING)
        if access is None:
            return await refusal(self)
        await self._reload(access)
        return rx.download(data=ledger_csv(self.entries), filename="chatai-ledger.csv")


def _preset_amounts() -> list[str]:
    """The configured presets as the amounts a button sends ('500', '1000'); only these are confirmed."""
    return [f"{p:g}" if float(p) == int(p) else f"{p:.2f}" for p in get_settings().topup_presets]


def ledger_csv(entries: list[dict[str, str]]) -> str:
    """The history as shown (same words, same rows), the answer's conversation as a full inbox address."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "kind", "amount", "balance_after", "details", "conversation"])
    for e in entries:
        # Leading =,+,-,@ would make spreadsheets run formulas: details are quoted as text.
        details = "'" + e["details"] if e["details"][:1] in "=+-@" else e["details"]
        link = get_settings().public_url.rstrip("/") + e["link"] if e["link"] else ""
        writer.writerow([e["date"], e["kind_label"], e["amount"], e["balance"], details, link])
    return out.getvalue()


_PROVIDERS = {"yookassa": "billing_provider_yookassa"}


def price_note(locale: str, *, answer: int, qa: int, currency: str) -> str:
    """'One answer costs ₽5.00. An answer from your Q&A pairs costs ₽2.00.' ('' when answers are free)."""
    if answer <= 0:
        return ""
    note = text(locale, "billing_price_answer", price=format_money(answer, currency, locale))
    if qa != answer:
        note += " " + (text(locale, "billing_price_qa", price=format_money(qa, currency, locale)) if qa > 0
                       else text(locale, "billing_price_qa_free"))
    return note


def _details(locale: str, row: billing_history.HistoryRow) -> str:
    if row.detail == "answer":
        return text(locale, "billing_detail_question", question=row.words) if row.words else \
            text(locale, "billing_detail_answer")
    if row.detail == "welcome":
        return text(locale, "billing_detail_welcome")
    if row.detail == "payment":
        provider = text(locale, _PROVIDERS[row.words]) if row.words in _PROVIDERS else row.words
        return text(locale, "billing_detail_payment", provider=provider) if provider else \
            text(locale, "billing_detail_payment_card")
    if row.detail == "promo":
        return text(locale, "billing_detail_promo", code=row.words)
    return row.words[:120]  # an administrator's reason, as typed


def entry_dict(locale: str, row: billing_history.HistoryRow, *, currency: str, time_zone: str) -> dict[str, str]:
    """One history row for the page and the CSV: every word in the owner's language (the ledger stores codes
    and English reasons), times on the owner's clock, money as the owner writes it, the answer's conversation
    as an inbox link."""
    return {"date": format_time(row.created_at, time_zone), "kind": row.kind,
            "kind_label": text(locale, f"billing_kind_{row.kind}"),
            "amount": format_money(row.amount_micros, currency, locale),
            "balance": format_money(row.balance_after_micros, currency, locale), "details": _details(locale, row),
            "link": f"{routes.INBOX}?dialog={row.dialog_id}" if row.dialog_id else ""}


def _details_cell(e: dict, **props) -> rx.Component:
    # Stored and typed words (a customer's question) are text children: escaped, never HTML.
    return rx.cond(e["link"] != "", rx.link(e["details"], href=e["link"], class_name="ledger-dialog-link", **props),
                   rx.text(e["details"], as_="span", **props))


# On a phone the ledger keeps date and amount as columns; the kind and the details go under the date and the
# balance after each entry is left to the wide table and the CSV (five columns scrolled sideways out of view;
# with the kind as a column, a Russian "Приветственный бонус" still pushed the amount past the screen).
_WIDE_ONLY = rx.breakpoints(initial="none", sm="table-cell")
_NARROW_ONLY = rx.breakpoints(initial="block", sm="none")


def _entry_row(e: dict) -> rx.Component:
    # The kind in words, translated with the row (the ledger's own codes showed in the Russian page too).
    return rx.table.row(rx.table.cell(e["date"], rx.box(rx.badge(e["kind_label"], class_name="ledger-kind"),
                                                        rx.box(_details_cell(e, size="1")), display=_NARROW_ONLY,
                                                        class_name="ledger-reason-narrow")),
                        rx.table.cell(rx.badge(e["kind_label"], class_name="ledger-kind"), display=_WIDE_ONLY),
                        rx.table.cell(e["amount"], class_name="ledger-amount", white_space="nowrap"),
                        rx.table.cell(e["balance"], display=_WIDE_ONLY),
                        rx.table.cell(_details_cell(e), display=_WIDE_ONLY))


def _topup_card() -> rx.Component:
    s = BillingState
    return card(
        rx.heading(t("billing_topup"), size="4", margin_bottom="8px"),
        rx.hstack(rx.foreach(s.presets, lambda p: rx.button(p["label"], variant="soft", class_name="topup-preset",
                                                            on_click=BillingState.topup_preset(p["amount"]))),
                  wrap="wrap", spacing="2"),
        _preset_confirmation(),
        rx.form(rx.hstack(rx.input(name="amount", placeholder=t("billing_topup_custom"), id="topup-amount",
                                   max_length=20),
                          rx.button(t("billing_topup_pay"), type="submit", id="topup-pay"), margin_top="12px"),
                on_submit=BillingState.handle_topup_submit, reset_on_submit=False),
        rx.form(rx.hstack(rx.input(name="code", placeholder=t("billing_promo"), id="promo-code", max_length=40),
                          rx.button(t("billing_promo_apply"), type="submit", variant="soft", id="promo-apply"),
                          margin_top="12px"),
                on_submit=BillingState.handle_promo_submit, reset_on_submit=True),
    )


def _preset_confirmation() -> rx.Component:
    s = BillingState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(t("billing_topup")),
            rx.alert_dialog.description(rx.text(s.confirm_text, id="topup-confirm-text")),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(t("cancel"), variant="soft", color_scheme="gray",
                                                 on_click=BillingState.cancel_topup, id="topup-confirm-cancel")),
                rx.alert_dialog.action(rx.button(t("billing_topup_pay"), on_click=BillingState.confirm_topup,
                                                 id="topup-confirm-pay")),
                justify="end", spacing="3", margin_top="16px",
            ),
            max_width="420px",
        ),
        open=s.confirm_amount != "",
    )


def _ledger_card() -> rx.Component:
    s = BillingState
    return card(
        rx.hstack(
            rx.heading(t("billing_ledger"), size="4"), rx.spacer(),
            rx.select.root(rx.select.trigger(id="ledger-kind"), rx.select.content(
                rx.select.item(t("billing_kind_all"), value="all"),
                *[rx.select.item(t(f"billing_kind_{k}"), value=k) for k in KINDS]),
                value=s.kind, on_change=BillingState.set_kind, size="1"),
            rx.select.root(rx.select.trigger(id="ledger-period"), rx.select.content(
                *[rx.select.item(t("billing_period_days").replace("{n}", p), value=p) for p in PERIODS]),
                value=s.period, on_change=BillingState.set_period, size="1"),
            rx.button(rx.icon("download", size=14), t("billing_export_csv"), size="1", variant="soft",
                      on_click=BillingState.export_csv, id="export-csv"),
            width="100%", align="center", wrap="wrap", margin_bottom="8px",
        ),
        rx.cond(s.entries.length() > 0,
                rx.box(rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("billing_col_date")),
                        rx.table.column_header_cell(t("billing_col_kind"), display=_WIDE_ONLY),
                        rx.table.column_header_cell(t("billing_col_amount")),
                        *[rx.table.column_header_cell(t(k), display=_WIDE_ONLY)
                          for k in ("billing_col_balance", "billing_col_reason")])),
                    rx.table.body(rx.foreach(s.entries, _entry_row)), width="100%"), overflow_x="auto",
                    id="ledger-table"),
                rx.text(t("billing_no_entries"), color=rx.color("gray", 11))),
    )


def _spend_card() -> rx.Component:
    return card(
        rx.heading(t("billing_spend_chart"), size="4", margin_bottom="8px"),
        rx.recharts.bar_chart(rx.recharts.bar(data_key="spent"), rx.recharts.x_axis(data_key="day"),
                              rx.recharts.y_axis(), rx.recharts.graphing_tooltip(), data=BillingState.spend,
                              width="100%", height=220),
    )


def billing_content() -> rx.Component:
    s = BillingState
    return rx.vstack(
        page_header("billing_title", "billing_subtitle"),
        error_callout(s.error, id="billing-error"),
        success_callout(s.notice),
        stat_grid(
            stat_card("billing_balance", s.balance, "wallet"),
            stat_card("billing_reserved", s.reserved, "hourglass"),
            stat_card("billing_answers_left", rx.cond(s.answers_left == "", t("billing_answers_free"),
                                                      s.answers_left), "message-square"),
        ),
        rx.cond(s.price_note != "", rx.text(s.price_note, size="2", id="billing-price")),
        rx.text(t("billing_dont_know_free"), size="2", color=rx.color("gray", 11), id="billing-dont-know-free"),
        _topup_card(),
        _spend_card(),
        _ledger_card(),
        spacing="5",
        width="100%",
        id="billing",
    )


@dashboard_page
def billing_page() -> rx.Component:
    return billing_content()


@dashboard_page
def billing_return_page() -> rx.Component:
    return billing_content()
