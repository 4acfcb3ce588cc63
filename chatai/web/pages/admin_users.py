"""Admin panel: the user list (search, sort, keyset pages, block) and one account (/admin/users/[admin_user_id]):
assistants, bots, documents, money, this month's dialogs; change role, credit or debit with a reason."""

from __future__ import annotations

import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.formatting import format_day, format_money, format_time
from chatai.services import accounts, billing
from chatai.services import admin as admin_svc
from chatai.services.accounts import AccountError
from chatai.services.billing import BillingError
from chatai.settings import get_settings
from chatai.web import routes
from chatai.web.components.confirm import confirm_action
from chatai.web.components.layout import (
    admin_page,
    card,
    error_callout,
    page_header,
    stat_card,
    stat_grid,
    success_callout,
    t,
)
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_admin

# Service error codes -> the sentence a person reads.
ERRORS = {"not_found": "adm_err_not_found", "admin_role_self": "adm_err_role_self",
          "admin_last_admin": "adm_err_last_admin", "admin_role_invalid": "adm_err_role_invalid",
          "reason_required": "adm_err_reason", "invalid_amount": "adm_err_amount", "insufficient": "adm_err_debit",
          "admin_bot_owner_blocked": "adm_err_owner_blocked", "cannot_block_self": "adm_err_block_self"}


async def error_text(state: rx.State, code: str) -> str:
    return text((await state.get_state(AuthState)).locale, ERRORS.get(code, "adm_err_not_found"))


def role_label(role: rx.Var) -> rx.Component:
    return rx.match(role, ("admin", t("first_hour_role_admin")), ("owner", t("first_hour_role_owner")), role)


def _when(value, time_zone: str) -> str:
    return format_time(value, time_zone) if value else "—"


class AdminUsersState(rx.State):
    rows: list[dict[str, str]] = []
    query: str = ""
    sort: str = "signup"
    descending: bool = True
    # Keyset paging: the cursor each shown page started after ("" = the first page), and the next page's.
    page_starts: list[str] = [""]
    next_cursor: str = ""
    error: str = ""

    async def _reload(self, admin: accounts.CurrentUser) -> None:
        async with async_session() as session:
            users = await admin_svc.list_users(session, admin=admin, query=self.query, sort=self.sort,
                                               descending=self.descending, after=self.page_starts[-1],
                                               limit=admin_svc.PAGE_SIZE + 1)
        more = len(users) > admin_svc.PAGE_SIZE
        users = users[:admin_svc.PAGE_SIZE]
        self.next_cursor = users[-1].cursor(self.sort) if more else ""
        currency = get_settings().billing_currency
        self.rows = [{"id": str(u.id), "email": u.email, "role": u.role, "blocked": "1" if u.blocked else "",
                      "created": format_day(u.created_at, admin.time_zone),
                      "balance": format_money(u.balance_micros, currency, admin.locale),
                      "spend": format_money(u.spent_micros, currency, admin.locale),
                      "active": _when(u.last_active_at, admin.time_zone)}
                     for u in users]

    async def _first_page(self, admin: accounts.CurrentUser) -> None:
        self.page_starts = [""]
        await self._reload(admin)

    @rx.event
    async def load_admin_users(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = ""
        await self._first_page(admin)

    @rx.event
    async def set_query(self, value: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.query = str(value)[:100]
        await self._first_page(admin)

    @rx.event
    async def set_sort(self, value: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.sort = value if value in admin_svc.SORTS else "signup"
        await self._first_page(admin)

    @rx.event
    async def set_descending(self, value: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.descending = value != "asc"
        await self._first_page(admin)

    @rx.event
    async def next_page(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        if self.next_cursor:
            self.page_starts = [*self.page_starts, self.next_cursor]
        await self._reload(admin)

    @rx.event
    async def first_page(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        await self._first_page(admin)

    @rx.event
    async def toggle_block(self, user_id: str, blocked: bool):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = ""
        try:
            async with async_session() as session:
                await accounts.set_blocked(session, admin=admin, user_id=uuid.UUID(user_id), blocked=bool(blocked),
                                           client=(await self.get_state(AuthState)).client())
        except AccountError as exc:
            self.error = await error_text(self, exc.code)
        except ValueError:
            self.error = await error_text(self, "not_found")
        await self._reload(admin)


class AdminAccountState(rx.State):
    account_id: str = ""
    email: str = ""
    role: str = ""
    blocked: bool = False
    created: str = ""
    last_active: str = ""
    assistants: list[str] = []
    bots: list[dict[str, str]] = []
    documents: int = 0
    balance: str = ""
    reserved: str = ""
    currency: str = ""
    ledger: list[dict[str, str]] = []
    spend: list[dict[str, str | float]] = []
    dialogs_month: int = 0
    handoffs_month: int = 0
    error: str = ""
    message: str = ""

    def _route_user_id(self) -> str:
        return str(self.router.page.params.get("admin_user_id", "") or "")

    async def _show(self, admin: accounts.CurrentUser) -> None:
        async with async_session() as session:
            a = await admin_svc.get_account(session, admin=admin, user_id=uuid.UUID(self.account_id))
        self.email, self.role, self.blocked = a.email, a.role, a.blocked
        zone, locale, currency = admin.time_zone, admin.locale, a.balance.currency
        self.created, self.last_active = _when(a.created_at, zone), _when(a.last_active_at, zone)
        self.assistants = a.assistants
        self.bots = [{"id": str(b.id), "username": b.username, "status": b.status,
                      "admin_paused": "1" if b.desired_state == admin_svc.ADMIN_PAUSED else ""} for b in a.bots]
        self.documents, self.dialogs_month, self.handoffs_month = a.documents, a.dialogs_this_month, \
            a.handoffs_this_month
        self.balance = format_money(a.balance.balance_micros, currency, locale)
        self.reserved = format_money(a.balance.reserved_micros, currency, locale)
        self.currency = currency
        self.ledger = [{"when": _when(e.created_at, zone), "kind": text(locale, f"billing_kind_{e.kind}"),
                        "amount": format_money(e.amount_micros, currency, locale),
                        "after": format_money(e.balance_after_micros, currency, locale), "reason": e.reason}
                       for e in a.ledger]
        self.spend = [{"day": day[5:], "spent": micros / billing.MICRO} for day, micros in a.spend_per_day]

    @rx.event
    async def load_admin_account(self):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        self.account_id = self._route_user_id()
        try:
            await self._show(admin)
        except (AccountError, ValueError):
            self.email = ""
            self.error = await error_text(self, "not_found")

    @rx.event
    async def set_role(self, role: str):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        try:
            async with async_session() as session:
                await admin_svc.set_role(session, admin=admin, user_id=uuid.UUID(self.account_id), role=str(role),
                                         client=(await self.get_state(AuthState)).client())
            self.message = text((await self.get_state(AuthState)).locale, "adm_role_done")
        except AccountError as exc:
            self.error = await error_text(self, exc.code)
        except ValueError:
            self.error = await error_text(self, "not_found")
        await self._show(admin)

    @rx.event
    async def handle_adjust_submit(self, form: dict):
        admin = await require_admin(self)
        if admin is None:
            return rx.redirect(routes.SIGNIN)
        self.error = self.message = ""
        try:
            amount = billing.to_micros(str(form.get("amount", ""))[:32])  # negative = debit
            async with async_session() as session:
                await admin_svc.adjust_balance(session, admin=admin, user_id=uuid.UUID(self.account_id),
                                               amount_micros=amount, reason=str(form.get("reason", ""))[:500],
                                               client=(await self.get_state(AuthState)).client())
            self.message = text((await self.get_state(AuthState)).locale, "adm_adjust_done")
        except BillingError as exc:
            self.error = await error_text(self, exc.code)
        except ValueError:
            self.error = await error_text(self, "invalid_amount")
        await self._show(admin)


# --- components -----------------------------------------------------------------------------------------------


def _user_row(row: dict) -> rx.Component:
    blocked = row["blocked"] != ""
    return rx.table.row(
        rx.table.cell(rx.link(row["email"], href=routes.ADMIN_USERS + "/" + row["id"])),
        rx.table.cell(rx.badge(role_label(row["role"]), color_scheme=rx.cond(row["role"] == "admin", "purple",
                                                                               "gray"))),
        rx.table.cell(rx.cond(blocked, rx.badge(t("blocked"), color_scheme="red"),
                              rx.badge(t("active"), color_scheme="green"))),
        rx.table.cell(row["created"]),
        rx.table.cell(row["balance"]),
        rx.table.cell(row["spend"]),
        rx.table.cell(row["active"]),
        rx.table.cell(
            rx.cond(blocked,
                    rx.button(t("unblock"), size="1", variant="soft", color_scheme="green",
                              on_click=AdminUsersState.toggle_block(row["id"], False)),
                    confirm_action(rx.button(t("block"), size="1", variant="soft", color_scheme="red",
                                             class_name="block-user"),
                                   title_key="first_hour_confirm_block_user", subject=row["email"],
                                   loss_key="first_hour_loss_user", action_key="block",
                                   on_confirm=AdminUsersState.toggle_block(row["id"], True)))
        ),
    )


def _sort_controls() -> rx.Component:
    s = AdminUsersState
    return rx.flex(
        rx.input(placeholder=t("adm_users_search"), value=s.query, on_change=s.set_query.debounce(300),
                 max_width="320px", aria_label=t("adm_users_search")),
        rx.select.root(
            rx.select.trigger(aria_label=t("adm_sort")),
            rx.select.content(*[rx.select.item(t(f"adm_sort_{key}"), value=key) for key in admin_svc.SORTS]),
            value=s.sort, on_change=s.set_sort),
        rx.select.root(
            rx.select.trigger(aria_label=t("adm_sort")),
            rx.select.content(rx.select.item(t("adm_sort_desc"), value="desc"),
                              rx.select.item(t("adm_sort_asc"), value="asc")),
            value=rx.cond(s.descending, "desc", "asc"), on_change=s.set_descending),
        spacing="3", wrap="wrap", margin_bottom="12px",
    )


@admin_page
def admin_users_page() -> rx.Component:
    s = AdminUsersState
    return rx.vstack(
        page_header("users_title", "admin_subtitle"),
        error_callout(s.error),
        card(
            _sort_controls(),
            rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("email")), rx.table.column_header_cell(t("role")),
                        rx.table.column_header_cell(t("status")), rx.table.column_header_cell(t("created")),
                        rx.table.column_header_cell(t("adm_balance")), rx.table.column_header_cell(t("adm_spend")),
                        rx.table.column_header_cell(t("adm_last_active")), rx.table.column_header_cell(t("actions")),
                    )),
                    rx.table.body(rx.foreach(s.rows, _user_row)),
                    width="100%",
                ),
                overflow_x="auto",
            ),
            rx.cond(s.rows.length() == 0, rx.text(t("adm_no_users"), color=rx.color("gray", 10)), rx.fragment()),
            rx.hstack(
                rx.button(t("adm_first_page"), variant="soft", size="1", on_click=s.first_page,
                          disabled=s.page_starts.length() <= 1),
                rx.button(t("adm_next_page"), variant="soft", size="1", on_click=s.next_page,
                          disabled=s.next_cursor == "", id="users-next"),
                margin_top="12px",
            ),
        ),
        width="100%",
        spacing="4",
    )


def _ledger_row(row: dict) -> rx.Component:
    return rx.table.row(rx.table.cell(row["when"]), rx.table.cell(row["kind"]), rx.table.cell(row["amount"]),
                        rx.table.cell(row["after"]), rx.table.cell(rx.text(row["reason"])))


def _bot_item(b: dict) -> rx.Component:
    return rx.hstack(rx.text("@", b["username"]), rx.badge(b["status"]),
                     rx.cond(b["admin_paused"] != "", rx.badge(t("adm_bot_admin_paused"), color_scheme="orange"),
                             rx.fragment()), spacing="2")


def _adjust_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(name="amount", placeholder=t("adm_adjust_amount"), required=True, width="200px",
                     aria_label=t("adm_adjust_amount"), id="adjust-amount"),
            rx.input(name="reason", placeholder=t("adm_adjust_reason"), required=True, flex="1", min_width="200px",
                     max_length=500, aria_label=t("adm_adjust_reason"), id="adjust-reason"),
            rx.button(t("adm_adjust_submit"), type="submit", id="adjust-submit"),
            spacing="3", wrap="wrap", width="100%",
        ),
        on_submit=AdminAccountState.handle_adjust_submit,
        reset_on_submit=True,
    )


@admin_page
def admin_account_page() -> rx.Component:
    s = AdminAccountState
    return rx.vstack(
        rx.hstack(
            rx.heading(s.email, size="7"),
            rx.badge(role_label(s.role), color_scheme=rx.cond(s.role == "admin", "purple", "gray")),
            rx.cond(s.blocked, rx.badge(t("blocked"), color_scheme="red"), rx.fragment()),
            rx.spacer(),
            rx.cond(s.role == "admin",
                    rx.button(t("adm_make_owner"), variant="soft", color_scheme="gray",
                              on_click=AdminAccountState.set_role("owner")),
                    rx.button(t("adm_make_admin"), variant="soft", color_scheme="purple",
                              on_click=AdminAccountState.set_role("admin"))),
            align="center", width="100%", wrap="wrap",
        ),
        rx.text(t("created"), ": ", s.created, " · ", t("adm_last_active"), ": ", s.last_active,
                color=rx.color("gray", 11)),
        error_callout(s.error),
        success_callout(s.message),
        stat_grid(
            stat_card("adm_balance", s.balance, "wallet"),
            stat_card("adm_account_documents", s.documents, "file-text"),
            stat_card("adm_account_dialogs_month", s.dialogs_month, "messages-square"),
            stat_card("adm_account_handoffs_month", s.handoffs_month, "user-round"),
        ),
        card(rx.heading(t("adm_adjust_title"), size="4", margin_bottom="8px"),
             rx.text(t("adm_account_reserved"), ": ", s.reserved, size="2", margin_bottom="8px"),
             _adjust_form()),
        card(rx.heading(t("adm_account_assistants"), size="4", margin_bottom="8px"),
             rx.cond(s.assistants.length() == 0, rx.text(t("adm_none")),
                     rx.vstack(rx.foreach(s.assistants, lambda name: rx.text(name)), spacing="1")),
             rx.heading(t("adm_account_bots"), size="4", margin_y="8px"),
             rx.cond(s.bots.length() == 0, rx.text(t("adm_none")), rx.vstack(rx.foreach(s.bots, _bot_item)))),
        card(rx.heading(t("adm_account_spend_day"), size="4", margin_bottom="8px"),
             rx.recharts.bar_chart(rx.recharts.bar(data_key="spent"), rx.recharts.x_axis(data_key="day"),
                                   rx.recharts.y_axis(), rx.recharts.graphing_tooltip(), data=s.spend,
                                   height=220, width="100%")),
        card(rx.heading(t("adm_account_ledger"), size="4", margin_bottom="8px"),
             rx.box(rx.table.root(
                 rx.table.header(rx.table.row(
                     rx.table.column_header_cell(t("adm_when")), rx.table.column_header_cell(t("adm_ledger_kind")),
                     rx.table.column_header_cell(t("adm_ledger_amount")),
                     rx.table.column_header_cell(t("adm_ledger_after")),
                     rx.table.column_header_cell(t("adm_ledger_reason")))),
                 rx.table.body(rx.foreach(s.ledger, _ledger_row)), width="100%"), overflow_x="auto")),
        width="100%",
        spacing="4",
    )
