"""Admin panel: prices per answer (history kept, audited) and promo codes (create, switch off, usage)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import reflex as rx

from chatai.db.session import async_session
from chatai.services import billing, promo
from chatai.services.billing import PRICE_ITEMS, BillingError
from chatai.settings import get_settings
from chatai.web import routes
from chatai.web.components.layout import admin_page, card, error_callout, page_header, success_callout, t
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_admin

CHANNEL = "telegram"


class AdminBillingState(rx.State):
    prices: list[dict[str, str]] = []
    promos: list[dict[str, str]] = []
    currency: str = ""
    error: str = ""
    message: str = ""

    async def _locale(self) -> str:
        return (await self.get_state(AuthState)).locale

    async def _reload(self) -> None:
        locale = await self._locale()
        async with async_session() as session:
            current = await billing.current_prices(session, channel=CHANNEL)
            codes = await promo.list_promos(session)
        self.currency = get_settings().billing_currency
        self.prices = [{"item": item, "label": text(locale, f"admin_price_item_{item}"),
                        "price": billing.format_amount(current[item])} for item in PRICE_ITEMS]
        self.promos = [{"id": str(p.id), "code": p.code, "bonus": billing.format_amount(p.bonus_micros),
                        "used": f"{p.redemptions} / {p.max_redemptions}",
                        "expires": p.expires_at.date().isoformat() if p.expires_at else "—",
                        "active": "1" if p.active else ""} for p in codes]

    @rx.event
    async def load_admin_billing(self):
        if await require_admin(self) is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        await self._reload()

    @rx.event
    async def handle_price_submit(self, form: dict):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        locale = await self._locale()
        self.error = self.message = ""
        item = str(form.get("item", ""))
        try:
            micros = billing.to_micros(str(form.get("price", "")))
            async with async_session() as session:
                await billing.set_price(session, item=item, channel=CHANNEL, price_micros=micros, actor_id=admin.id,
                                        client=(await self.get_state(AuthState)).client())
                await session.commit()
        except BillingError:
            self.error = text(locale, "admin_err_price")
            return
        self.message = text(locale, "admin_price_saved")
        await self._reload()

    @rx.event
    async def handle_promo_submit(self, form: dict):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        locale = await self._locale()
        self.error = self.message = ""
        expires_raw = str(form.get("expires", "")).strip()
        try:
            expires = datetime.strptime(expires_raw, "%Y-%m-%d").replace(tzinfo=UTC) if expires_raw else None
        except ValueError:
            self.error = text(locale, "admin_err_promo_date")
            return
        try:
            bonus = billing.to_micros(str(form.get("bonus", "")))
            max_redemptions = int(str(form.get("max_redemptions", "1")).strip() or "1")
            async with async_session() as session:
                created = await promo.create_promo(session, code=str(form.get("code", "")), bonus_micros=bonus,
                                                   max_redemptions=max_redemptions, expires_at=expires,
                                                   actor_id=admin.id, client=(await self.get_state(AuthState)).client())
                code = created.code
                await session.commit()
        except ValueError:
            self.error = text(locale, "admin_err_promo_invalid")
            return
        except BillingError as exc:
            if exc.code == "promo_weak":
                self.error = text(locale, "admin_err_promo_weak", length=promo.MIN_CODE_LENGTH,
                                  distinct=promo.MIN_DISTINCT_CHARACTERS)
            else:
                self.error = text(locale, "admin_err_promo_exists" if exc.code == "promo_exists"
                                  else "admin_err_promo_invalid")
            return
        self.message = text(locale, "admin_promo_created", code=code)
        await self._reload()

    @rx.event
    async def set_promo_active(self, promo_id: str, active: bool):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        try:
            async with async_session() as session:
                await promo.set_promo_active(session, promo_id=uuid.UUID(promo_id), active=bool(active),
                                             actor_id=admin.id, client=(await self.get_state(AuthState)).client())
                await session.commit()
        except (ValueError, BillingError):
            self.error = text(await self._locale(), "admin_err_promo_invalid")
        await self._reload()


def _price_row(row: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["label"]),
        rx.table.cell(row["price"], " ", AdminBillingState.currency),
        rx.table.cell(
            rx.form(
                rx.hstack(
                    rx.input(name="price", placeholder=row["price"], size="1", width="110px", required=True,
                             aria_label=t("admin_price_new")),
                    rx.el.input(type="hidden", name="item", value=row["item"]),
                    rx.button(t("admin_price_save"), size="1", type="submit"),
                    spacing="2",
                ),
                on_submit=AdminBillingState.handle_price_submit,
                reset_on_submit=True,
            ),
        ),
    )


def _promo_row(row: dict) -> rx.Component:
    active = row["active"] != ""
    return rx.table.row(
        rx.table.cell(rx.code(row["code"])),
        rx.table.cell(row["bonus"], " ", AdminBillingState.currency),
        rx.table.cell(row["used"]),
        rx.table.cell(row["expires"]),
        rx.table.cell(rx.cond(active, rx.badge(t("admin_promo_on"), color_scheme="green"),
                              rx.badge(t("admin_promo_off"), color_scheme="gray"))),
        rx.table.cell(rx.button(rx.cond(active, t("admin_promo_disable"), t("admin_promo_enable")), size="1",
                                variant="soft", color_scheme=rx.cond(active, "red", "green"),
                                on_click=AdminBillingState.set_promo_active(row["id"], ~active))),
    )


def _promo_form() -> rx.Component:
    def field(key: str, name: str, **props) -> rx.Component:
        return rx.vstack(rx.text(t(key), size="1", as_="label", html_for=f"promo-{name}"),
                         rx.input(name=name, id=f"promo-{name}", size="2", **props), spacing="1")

    return rx.form(
        rx.flex(
            field("admin_promo_code", "code", max_length=32, placeholder=t("admin_promo_code_hint")),
            field("admin_promo_bonus", "bonus", required=True, width="110px"),
            field("admin_promo_max", "max_redemptions", default_value="100", width="110px"),
            field("admin_promo_expires", "expires", placeholder="2027-01-31", width="150px"),
            rx.button(t("admin_promo_create"), type="submit", id="create-promo"),
            spacing="3", align="end", wrap="wrap",
        ),
        on_submit=AdminBillingState.handle_promo_submit,
        reset_on_submit=True,
    )


@admin_page
def admin_billing_page() -> rx.Component:
    return rx.vstack(
        page_header("admin_billing_title", "admin_billing_subtitle"),
        error_callout(AdminBillingState.error),
        success_callout(AdminBillingState.message),
        card(rx.box(rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell(""),
                                         rx.table.column_header_cell(t("admin_price_current")),
                                         rx.table.column_header_cell(t("admin_price_new")))),
            rx.table.body(rx.foreach(AdminBillingState.prices, _price_row)), width="100%"), overflow_x="auto")),
        card(
            _promo_form(),
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("admin_promo_code")),
                    rx.table.column_header_cell(t("admin_promo_bonus")),
                    rx.table.column_header_cell(t("admin_promo_used")),
                    rx.table.column_header_cell(t("admin_promo_expires")),
                    rx.table.column_header_cell(""), rx.table.column_header_cell(""))),
                rx.table.body(rx.foreach(AdminBillingState.promos, _promo_row)), width="100%"),
                overflow_x="auto", margin_top="16px"),
        ),
        width="100%",
        spacing="4",
    )
