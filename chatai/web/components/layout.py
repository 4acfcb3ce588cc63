"""Page shells: the auth card, the owner dashboard and the admin panel (sidebar + top bar,
collapsing to a drawer menu on phones)."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from chatai.web import routes
from chatai.web.components.business_switcher import business_switcher
from chatai.web.components.document_language import DocumentLanguageState
from chatai.web.i18n import LANGUAGES
from chatai.web.live import unread_badge, waiting_notice
from chatai.web.state.access import BusinessState
from chatai.web.state.auth import AuthState

ACCENT = "indigo"

DASHBOARD_NAV = [
    ("nav_overview", routes.OVERVIEW, "layout-dashboard"),
    ("nav_assistants", routes.ASSISTANTS, "bot"),
    ("nav_knowledge", routes.KNOWLEDGE, "book-open"),
    ("nav_bots", routes.BOTS, "send"),
    ("nav_website", routes.OVERVIEW + "/website", "globe"),  # chatai/web/pages/widget.py
    ("nav_inbox", routes.INBOX, "messages-square"),
    ("nav_billing", routes.BILLING, "wallet"),
    ("nav_team", routes.TEAM, "users"),
    ("nav_settings", routes.SETTINGS, "settings"),
]
# Pages a role may not open are not offered (chatai/team/roles.py; the pages refuse them anyway).
NAV_CAPABILITY = {routes.ASSISTANTS: "assistants", routes.BOTS: "bots", routes.BILLING: "billing",
                  routes.TEAM: "team", routes.OVERVIEW + "/website": "widget"}
ADMIN_NAV = [
    ("nav_overview", routes.ADMIN, "activity"),
    ("nav_users", routes.ADMIN_USERS, "users"),
    ("nav_admin_billing", routes.ADMIN_BILLING, "receipt"),
    ("adm_nav_bots", routes.ADMIN_BOTS, "send"),
    ("adm_nav_audit", routes.ADMIN_AUDIT, "scroll-text"),
    ("admin_money_nav", routes.ADMIN_MONEY, "chart-line"),
    ("admin_system_nav", routes.ADMIN_SYSTEM, "server"),
    ("nav_dashboard", routes.OVERVIEW, "arrow-left"),
]


def t(key: str) -> rx.Var:
    return AuthState.tr[key]


def logo() -> rx.Component:
    return rx.hstack(
        rx.center(rx.icon("message-circle", size=18, color="white"), bg=rx.color(ACCENT, 9),
                  border_radius="8px", width="30px", height="30px"),
        rx.text("ChatAI", weight="bold", size="5"),
        align="center",
        spacing="2",
    )


def language_switch() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(variant="ghost", aria_label=t("ui_language")),
        rx.select.content(*[rx.select.item(label, value=code) for code, label in LANGUAGES.items()]),
        value=AuthState.locale,
        on_change=[AuthState.set_locale, DocumentLanguageState.apply_document_language],
        size="1",
    )


def _nav_link(key: str, href: str, icon: str) -> rx.Component:
    active = rx.State.router.page.path == href
    return rx.link(
        rx.hstack(rx.icon(icon, size=17), rx.text(t(key), size="2"),
                  *([rx.spacer(), unread_badge()] if key == "nav_inbox" else []), spacing="3", align="center",
                  padding_x="12px", padding_y="8px", border_radius="8px", width="100%",
                  bg=rx.cond(active, rx.color(ACCENT, 3), "transparent"),
                  color=rx.cond(active, rx.color(ACCENT, 11), rx.color("gray", 11)),
                  _hover={"bg": rx.color("gray", 3)}),
        href=href,
        underline="none",
        width="100%",
        id=f"nav-{key}",
    )


def _nav(items: list[tuple[str, str, str]], admin_link: bool) -> rx.Component:
    links = [rx.cond(BusinessState.allowed.contains(NAV_CAPABILITY[item[1]]), _nav_link(*item), rx.fragment())
             if item[1] in NAV_CAPABILITY else _nav_link(*item) for item in items]
    if admin_link:
        links.append(rx.cond(AuthState.is_admin, _nav_link("nav_admin", routes.ADMIN, "shield"), rx.fragment()))
    return rx.vstack(*links, spacing="1", width="100%")


def _user_box() -> rx.Component:
    return rx.vstack(
        rx.divider(),
        business_switcher(),
        # No leading trim here: with overflow hidden it cut the bottom off the letters.
        rx.text(AuthState.user_email, size="1", color=rx.color("gray", 10), class_name="user-email",
                style={"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}, width="100%"),
        rx.hstack(
            language_switch(),
            rx.spacer(),
            rx.button(rx.icon("log-out", size=14), t("sign_out"), variant="soft", color_scheme="gray", size="1",
                      on_click=AuthState.sign_out, id="sign-out"),
            width="100%",
            align="center",
        ),
        width="100%",
        spacing="3",
    )


def _sidebar(items: list[tuple[str, str, str]], admin_link: bool) -> rx.Component:
    return rx.vstack(
        logo(),
        rx.box(height="12px"),
        _nav(items, admin_link),
        rx.spacer(),
        _user_box(),
        width="240px",
        min_width="240px",
        height="100vh",
        overflow_y="auto",
        padding="20px 16px",
        border_right=f"1px solid {rx.color('gray', 4)}",
        bg=rx.color("gray", 1),
    )


def _mobile_bar(items: list[tuple[str, str, str]], admin_link: bool) -> rx.Component:
    return rx.hstack(
        logo(),
        rx.spacer(),
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", aria_label=t("first_hour_menu"),
                                             id="menu")),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(logo(), _nav(items, admin_link), rx.spacer(), _user_box(),
                              height="100%", padding="20px", spacing="4"),
                    width="75%", max_width="300px", height="100%", bg=rx.color("gray", 1),
                ),
            ),
            direction="left",
        ),
        width="100%",
        padding="12px 16px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        align="center",
    )


def page_header(title_key: str, subtitle_key: str, *actions: rx.Component) -> rx.Component:
    return rx.flex(
        rx.vstack(rx.heading(t(title_key), size="7"), rx.text(t(subtitle_key), color=rx.color("gray", 11)),
                  spacing="1"),
        rx.spacer(),
        *actions,
        width="100%",
        align="center",
        wrap="wrap",
        gap="12px",
        margin_bottom="8px",
    )


def _shell(content: rx.Component, items: list[tuple[str, str, str]], admin_link: bool) -> rx.Component:
    return rx.box(
        hydration_marker(),
        # The page content is rendered once; only the navigation changes with the screen width.
        rx.hstack(
            # Sticky is on the wrapper: inside a wrapper of its own height the sidebar scrolled away with long pages.
            rx.desktop_only(_sidebar(items, admin_link), position="sticky", top="0", align_self="flex-start",
                            height="100vh", id="sidebar"),
            rx.box(rx.mobile_and_tablet(_mobile_bar(items, admin_link)), _main(content), width="100%",
                   min_width="0"),
            spacing="0",
            align="start",
            width="100%",
        ),
        min_height="100vh",
        bg=rx.color("gray", 2),
    )


def _main(content: rx.Component) -> rx.Component:
    return rx.box(
        rx.cond(AuthState.user_email != "", rx.fragment(waiting_notice(), content),
                rx.center(rx.spinner(size="3"), height="60vh")),
        width="100%",
        max_width="1200px",
        padding=["16px", "20px", "32px"],
        margin_x="auto",
    )


def dashboard_page(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    def page() -> rx.Component:
        from chatai.web.components.balance_banner import balance_banner
        from chatai.web.components.email_banner import email_banner

        return _shell(rx.vstack(email_banner(), balance_banner(), content(), spacing="4", width="100%"), DASHBOARD_NAV,
                      admin_link=True)

    page.__name__ = content.__name__
    return page


def admin_page(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    def page() -> rx.Component:
        return _shell(content(), ADMIN_NAV, admin_link=False)

    page.__name__ = content.__name__
    return page


def card(*children: rx.Component, **props) -> rx.Component:
    return rx.card(*children, size="3", width="100%", **props)


def stat_card(label_key: str, value: rx.Var, icon: str) -> rx.Component:
    return card(
        rx.hstack(
            rx.center(rx.icon(icon, size=20, color=rx.color(ACCENT, 11)), bg=rx.color(ACCENT, 3),
                      border_radius="10px", width="40px", height="40px"),
            rx.vstack(rx.text(t(label_key), size="2", color=rx.color("gray", 11)),
                      rx.heading(value, size="6"), spacing="0"),
            spacing="4",
            align="center",
        ),
    )


def stat_grid(*cards: rx.Component) -> rx.Component:
    return rx.grid(*cards, columns=rx.breakpoints(initial="1", sm="2", lg="4"), spacing="4", width="100%")


def empty_state(icon: str, text_key: str) -> rx.Component:
    return rx.center(
        rx.vstack(rx.icon(icon, size=36, color=rx.color("gray", 8)),
                  rx.text(t(text_key), color=rx.color("gray", 11), text_align="center"),
                  align="center", spacing="3"),
        padding="48px 16px",
        width="100%",
    )


def error_callout(message: rx.Var, id: str = "form-error") -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%", id=id),
        rx.fragment(),
    )


def success_callout(message: rx.Var) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="check", color_scheme="green", width="100%"), rx.fragment())


def hydration_marker() -> rx.Component:
    """An invisible element present once the page is connected to its state (browser tests wait on it)."""
    return rx.cond(rx.State.is_hydrated, rx.box(id="hydrated", display="none"), rx.fragment())


def auth_shell(content: rx.Component) -> rx.Component:
    return rx.center(
        hydration_marker(),
        rx.vstack(
            rx.hstack(logo(), rx.spacer(), language_switch(), width="100%", align="center"),
            rx.text(t("tagline"), color=rx.color("gray", 11), size="2"),
            card(content),
            width="100%",
            max_width="420px",
            spacing="4",
            padding="16px",
        ),
        min_height="100vh",
        bg=rx.color("gray", 2),
    )
