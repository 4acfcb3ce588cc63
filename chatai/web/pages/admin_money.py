"""Admin panel: platform money for a period (answers charged, revenue from top-up money and bonus money apart,
top-ups, LLM cost, margin per day and per account) and the LLM price table the cost is computed with
(services/admin_money.py)."""

from __future__ import annotations

import functools

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import format_number
from chatai.services import admin_money
from chatai.services.admin_money import MoneyError, Period
from chatai.settings import get_settings
from chatai.web import routes
from chatai.web.components.layout import admin_page, card, error_callout, page_header, success_callout, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_admin

PERIODS = ("7", "30", "90")


def _units(micros: int) -> float:
    return round(micros / 1_000_000, 2)


class AdminMoneyState(rx.State):
    period: str = "30"
    chart: list[dict[str, float | str]] = []
    days: list[dict[str, str]] = []  # newest first
    totals: dict[str, str] = {}
    accounts: list[dict[str, str]] = []
    prices: list[dict[str, str]] = []
    unpriced: list[str] = []
    currency: str = ""
    usd_rate: str = ""
    error: str = ""
    message: str = ""

    async def _locale(self) -> str:
        return (await self.get_state(AuthState)).locale

    async def _reload(self, admin) -> None:
        period = Period.last_days(int(self.period))
        async with async_session() as session:
            days = await admin_money.daily_figures(session, admin=admin, period=period)
            accounts = await admin_money.account_figures(session, admin=admin, period=period)
            self.unpriced = await admin_money.unpriced_models(session, admin=admin, period=period)
            prices = await admin_money.list_model_prices(session, admin=admin)
        settings, locale = get_settings(), await self._locale()
        money = functools.partial(format_number, locale=locale)  # '1 234,50' for a Russian admin (RUB in the title)
        self.currency, self.usd_rate = settings.billing_currency, f"{settings.llm_usd_rate:g}"
        self.chart = [{"day": d.day.strftime("%m-%d"), "revenue": _units(d.revenue_micros),
                       "bonus": _units(d.bonus_micros), "cost": _units(d.cost_micros),
                       "margin": _units(d.margin_micros)} for d in days]
        self.days = [{"day": d.day.isoformat(), "signups": str(d.signups), "active": str(d.active_accounts),
                      "answers": str(d.answers), "revenue": money(d.revenue_micros),
                      "bonus": money(d.bonus_micros), "topups": money(d.topups_micros),
                      "cost": money(d.cost_micros), "margin": money(d.margin_micros)}
                     for d in reversed(days)]
        self.totals = totals(days, locale)
        self.accounts = [{"id": str(a.account_id), "email": a.email, "answers": str(a.answers),
                          "revenue": money(a.revenue_micros), "bonus": money(a.bonus_micros),
                          "cost": money(a.cost_micros), "margin": money(a.margin_micros),
                          "negative": "1" if a.margin_micros < 0 else ""}
                         for a in accounts]
        self.prices = [{"model": p.model, "prompt": format_usd(p.prompt_usd_micros),
                        "completion": format_usd(p.completion_usd_micros), "custom": "1" if p.custom else ""}
                       for p in prices]

    @rx.event
    async def load_admin_money(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        await self._reload(admin)

    @rx.event
    async def set_period(self, value: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.period = value if value in PERIODS else "30"
        await self._reload(admin)

    @rx.event
    async def handle_model_price_submit(self, form: dict):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        locale = await self._locale()
        self.error = self.message = ""
        try:
            prompt = admin_money.parse_usd(str(form.get("prompt", "")))
            completion = admin_money.parse_usd(str(form.get("completion", "")))
            async with async_session() as session:
                await admin_money.set_model_price(session, admin=admin, model=str(form.get("model", "")),
                                                  prompt_usd_micros=prompt, completion_usd_micros=completion,
                                                  client=(await self.get_state(AuthState)).client())
                await session.commit()
        except MoneyError as exc:
            self.error = text(locale, "admin_money_err_model" if exc.code == "model" else "admin_money_err_price")
            return
        self.message = text(locale, "admin_money_price_saved")
        await self._reload(admin)


def totals(days: list[admin_money.DayFigures], locale: str = "en") -> dict[str, str]:
    """The period's totals. Margin is revenue (top-up money) less LLM cost, as a share of that revenue: bonus
    money spent on answers is not revenue, so a month paid for by welcome credit shows no margin at all."""
    revenue, cost = sum(d.revenue_micros for d in days), sum(d.cost_micros for d in days)
    return {"signups": str(sum(d.signups for d in days)), "answers": str(sum(d.answers for d in days)),
            "llm_calls": str(sum(d.llm_calls for d in days)), "revenue": format_number(revenue, locale),
            "bonus": format_number(sum(d.bonus_micros for d in days), locale),
            "topups": format_number(sum(d.topups_micros for d in days), locale), "cost": format_number(cost, locale),
            "margin": format_number(revenue - cost, locale),
            "margin_pct": f"{(revenue - cost) * 100 / revenue:.1f}%" if revenue else "—"}


def format_usd(micros: int) -> str:
    """USD micros -> '0.15' (up to 6 decimals, trailing zeros dropped, at least 2)."""
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}.{f'{frac:06d}'.rstrip('0').ljust(2, '0')}"


def _money_chart() -> rx.Component:
    return rx.recharts.line_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.line(data_key="revenue", name=t("admin_money_revenue"), stroke=rx.color("green", 9), dot=False),
        rx.recharts.line(data_key="bonus", name=t("admin_money_bonus"), stroke=rx.color("amber", 9), dot=False),
        rx.recharts.line(data_key="cost", name=t("admin_money_cost"), stroke=rx.color("red", 9), dot=False),
        rx.recharts.line(data_key="margin", name=t("admin_money_margin"), stroke=rx.color("blue", 9), dot=False),
        rx.recharts.x_axis(data_key="day"),
        rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        data=AdminMoneyState.chart,
        width="100%",
        height=300,
    )


def _total(key: str, value: rx.Var) -> rx.Component:
    return rx.vstack(rx.text(t(key), size="1", color=rx.color("gray", 11)), rx.text(value, size="5", weight="bold"),
                     spacing="1")


def _header(*keys: str) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(t(k) if k else "") for k in keys]))


def _account_row(row: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row["email"], href="/admin/users/" + row["id"])),
        rx.table.cell(row["answers"]),
        rx.table.cell(row["revenue"]),
        rx.table.cell(row["bonus"]),
        rx.table.cell(row["cost"]),
        rx.table.cell(rx.text(row["margin"], color=rx.cond(row["negative"] != "", rx.color("red", 11), "inherit"),
                              weight="medium")),
    )


def _day_row(row: dict) -> rx.Component:
    return rx.table.row(*[rx.table.cell(row[key]) for key in
                          ("day", "signups", "active", "answers", "revenue", "bonus", "topups", "cost", "margin")])


def _price_row(row: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row["model"])),
        rx.table.cell(row["prompt"]),
        rx.table.cell(row["completion"]),
        rx.table.cell(rx.cond(row["custom"] != "", rx.badge(t("admin_money_price_custom"), color_scheme="blue"),
                              rx.badge(t("admin_money_price_default"), color_scheme="gray"))),
    )


def _price_form() -> rx.Component:
    def field(key: str, name: str, **props) -> rx.Component:
        return rx.vstack(rx.text(t(key), size="1", as_="label", html_for=f"model-price-{name}"),
                         rx.input(name=name, id=f"model-price-{name}", size="2", required=True, **props), spacing="1")

    return rx.form(
        rx.flex(
            field("admin_money_model", "model", max_length=120, placeholder="gpt-4o-mini"),
            field("admin_money_prompt_price", "prompt", width="140px", placeholder="0.15"),
            field("admin_money_completion_price", "completion", width="140px", placeholder="0.60"),
            rx.button(t("admin_money_price_save"), type="submit", id="save-model-price"),
            spacing="3", align="end", wrap="wrap",
        ),
        on_submit=AdminMoneyState.handle_model_price_submit,
        reset_on_submit=True,
    )


def _table(header: rx.Component, rows: rx.Var, render) -> rx.Component:
    return rx.box(rx.table.root(header, rx.table.body(rx.foreach(rows, render)), width="100%"), overflow_x="auto",
                  width="100%")


@admin_page
def admin_money_page() -> rx.Component:
    s = AdminMoneyState
    return rx.vstack(
        page_header("admin_money_title", "admin_money_subtitle",
                    rx.select.root(rx.select.trigger(aria_label=t("admin_money_period")),
                                   rx.select.content(*[rx.select.item(t(f"admin_money_period_{p}"), value=p)
                                                       for p in PERIODS]),
                                   value=s.period, on_change=s.set_period)),
        error_callout(s.error),
        success_callout(s.message),
        rx.cond(s.unpriced.length() > 0,
                rx.callout(t("admin_money_unpriced") + " " + s.unpriced.join(", "), icon="triangle-alert",
                           color_scheme="amber", width="100%"),
                rx.fragment()),
        card(rx.flex(_total("admin_money_revenue", s.totals["revenue"]), _total("admin_money_bonus", s.totals["bonus"]),
                     _total("admin_money_cost", s.totals["cost"]),
                     _total("admin_money_margin", s.totals["margin"]),
                     _total("admin_money_margin_pct", s.totals["margin_pct"]),
                     _total("admin_money_topups", s.totals["topups"]),
                     _total("admin_money_answers", s.totals["answers"]),
                     _total("admin_money_llm_calls", s.totals["llm_calls"]),
                     _total("admin_money_signups", s.totals["signups"]), spacing="6", wrap="wrap"),
             rx.text(t("admin_money_in_currency"), " ", s.currency, size="1", color=rx.color("gray", 11),
                     margin_top="8px"),
             rx.text(t("admin_money_definitions"), size="1", color=rx.color("gray", 11), id="admin-money-definitions")),
        card(rx.heading(t("admin_money_chart_title"), size="4", margin_bottom="8px"), _money_chart()),
        card(rx.heading(t("admin_money_lowest_title"), size="4", margin_bottom="8px"),
             _table(_header("admin_money_account", "admin_money_answers", "admin_money_revenue", "admin_money_bonus",
                            "admin_money_cost", "admin_money_margin"), s.accounts, _account_row)),
        card(rx.heading(t("admin_money_prices_title"), size="4"),
             rx.text(t("admin_money_prices_hint"), " ", s.usd_rate, " ", s.currency, size="2",
                     color=rx.color("gray", 11), margin_bottom="8px"),
             _price_form(),
             _table(_header("admin_money_model", "admin_money_prompt_price", "admin_money_completion_price", ""),
                    s.prices, _price_row)),
        card(rx.heading(t("admin_money_days_title"), size="4", margin_bottom="8px"),
             _table(_header("admin_money_day", "admin_money_signups", "admin_money_active", "admin_money_answers",
                            "admin_money_revenue", "admin_money_bonus", "admin_money_topups", "admin_money_cost",
                            "admin_money_margin"),
                    s.days, _day_row)),
        width="100%",
        spacing="4",
    )
