"""The Reflex app: pages, extra HTTP routes and long-running tasks. Wiring only."""

from __future__ import annotations

import reflex as rx

from chatai.fsperms import restrict_new_files
from chatai.logging_setup import configure_logging
from chatai.settings import get_settings
from chatai.web import routes, session_cookie, socket_takeover
from chatai.web.api import with_api_routes
from chatai.web.components.document_language import DocumentLanguageState
from chatai.web.pages.admin import AdminOverviewState, admin_overview_page
from chatai.web.pages.admin_audit import AdminAuditState, admin_audit_page
from chatai.web.pages.admin_billing import AdminBillingState, admin_billing_page
from chatai.web.pages.admin_bots import AdminBotsState, admin_bots_page
from chatai.web.pages.admin_money import AdminMoneyState, admin_money_page
from chatai.web.pages.admin_system import AdminSystemState, admin_system_page
from chatai.web.pages.admin_users import AdminAccountState, AdminUsersState, admin_account_page, admin_users_page
from chatai.web.pages.assistants import AssistantsState, assistants_page
from chatai.web.pages.auth import (
    FORGOT_PASSWORD,
    RESET_PASSWORD,
    ForgotPasswordState,
    ResetPasswordState,
    SignInState,
    forgot_password_page,
    reset_password_page,
    signin_page,
    signup_page,
)
from chatai.web.pages.billing import BILLING_RETURN, BillingState, billing_page, billing_return_page
from chatai.web.pages.bots import BotsState, bots_page
from chatai.web.pages.inbox import inbox_page
from chatai.web.pages.knowledge import knowledge_page
from chatai.web.pages.not_found import not_found_page
from chatai.web.pages.overview import OverviewState, QaPrefillState, overview_page
from chatai.web.pages.settings_page import SettingsState, settings_page
from chatai.web.pages.team import TeamState, team_page
from chatai.web.pages.team_invite import InviteState, invite_page
from chatai.web.pages.widget import WEBSITE, WidgetState, widget_page
from chatai.web.state.access import BusinessState
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox import InboxState
from chatai.web.state.knowledge import KnowledgeState

restrict_new_files()  # state files, uploads, logs of this process: owner-only (fsperms.py)
configure_logging()  # LOG_FORMAT text/json; tokens and keys redacted on every handler (logging_setup.py)
session_cookie.install()
socket_takeover.install()  # a tab whose worker died keeps its state on another worker
app = rx.App(
    api_transformer=with_api_routes,
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
                     rx.el.link(rel="icon", href="/favicon.ico", type="image/x-icon")],
)


def add_page(component, *, route: str, title: str, on_load=None) -> None:
    """app.add_page, then the tab title and <html lang> in the user's language (document_language.py)."""
    events = on_load if isinstance(on_load, list) else ([on_load] if on_load is not None else [])
    app.add_page(component, route=route, title=title,
                 on_load=[*events, DocumentLanguageState.apply_document_language])


guard = AuthState.guard_dashboard
add_page(lambda: rx.fragment(), route="/", on_load=AuthState.redirect_to_home, title="ChatAI")
add_page(signin_page, route=routes.SIGNIN, title="Sign in · ChatAI",
         on_load=[AuthState.redirect_if_signed_in, SignInState.load_signin_notice,
                  DocumentLanguageState.detect_browser_language])
add_page(forgot_password_page, route=FORGOT_PASSWORD, title="Reset password · ChatAI",
         on_load=ForgotPasswordState.load_forgot_password)
add_page(reset_password_page, route=RESET_PASSWORD, title="New password · ChatAI",
         on_load=ResetPasswordState.load_reset_password)
add_page(signup_page, route=routes.SIGNUP, title="Sign up · ChatAI",
         on_load=[AuthState.redirect_if_signed_in, DocumentLanguageState.detect_browser_language])
add_page(overview_page, route=routes.OVERVIEW, title="ChatAI",
         on_load=[guard, BusinessState.select_from_address, OverviewState.load_overview])
add_page(assistants_page, route=routes.ASSISTANTS, title="Assistants · ChatAI",
         on_load=[guard, AssistantsState.load_assistants])
add_page(knowledge_page, route=routes.KNOWLEDGE, title="Knowledge base · ChatAI",
         on_load=[guard, KnowledgeState.load_knowledge, QaPrefillState.prefill_qa])
add_page(bots_page, route=routes.BOTS, title="Bots · ChatAI", on_load=[guard, BotsState.load_bots])
add_page(widget_page, route=WEBSITE, title="Website · ChatAI", on_load=[guard, WidgetState.load_widget])
add_page(inbox_page, route=routes.INBOX, title="Inbox · ChatAI", on_load=[guard, InboxState.load_inbox])
add_page(billing_page, route=routes.BILLING, title="Billing · ChatAI", on_load=[guard, BillingState.load_billing])
add_page(billing_return_page, route=BILLING_RETURN, title="Billing · ChatAI",
         on_load=[guard, BillingState.load_billing_return])
add_page(settings_page, route=routes.SETTINGS, title="Settings · ChatAI",
         on_load=[guard, SettingsState.load_settings])
add_page(team_page, route=routes.TEAM, title="Team · ChatAI", on_load=[guard, TeamState.load_team])
add_page(invite_page, route=routes.INVITE, title="Join a team · ChatAI", on_load=InviteState.load_invite)
add_page(admin_overview_page, route=routes.ADMIN, title="Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminOverviewState.load_admin_overview])
add_page(admin_users_page, route=routes.ADMIN_USERS, title="Users · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminUsersState.load_admin_users])
add_page(admin_billing_page, route=routes.ADMIN_BILLING, title="Prices · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminBillingState.load_admin_billing])
add_page(admin_account_page, route=routes.ADMIN_ACCOUNT, title="Account · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminAccountState.load_admin_account])
add_page(admin_bots_page, route=routes.ADMIN_BOTS, title="Bots · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminBotsState.load_admin_bots])
add_page(admin_audit_page, route=routes.ADMIN_AUDIT, title="Audit · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminAuditState.load_admin_audit])
add_page(admin_money_page, route=routes.ADMIN_MONEY, title="Money · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminMoneyState.load_admin_money])
add_page(admin_system_page, route=routes.ADMIN_SYSTEM, title="System · Admin · ChatAI",
         on_load=[AuthState.guard_admin, AdminSystemState.load_admin_system])

add_page(not_found_page, route="404", title="Page not found · ChatAI")


def _register_background_work() -> None:
    """Ingestion, live updates and the mail outbox always run beside the web app; the bot runner too on
    a single machine (with separate `python -m chatai bots run` processes, set RUN_BOTS_IN_WEB=false)."""
    from chatai.db.session import warm_app_pool
    from chatai.rag.worker import run_ingest_worker
    from chatai.services.mail import run_mail_sender
    from chatai.web.graceful_stop import close_websockets_on_stop
    from chatai.web.live import run_live_updates
    from chatai.web.state.inbox_tools_live import run_inbox_tools_live

    app.register_lifespan_task(warm_app_pool)  # connections open before the first webhook updates need them
    app.register_lifespan_task(run_ingest_worker)
    app.register_lifespan_task(run_live_updates)  # one dialog-event subscriber per web worker
    app.register_lifespan_task(run_inbox_tools_live)  # typing, notes, labels: one subscriber per web worker
    app.register_lifespan_task(run_mail_sender)  # the outbox; several workers share it (SKIP LOCKED)
    app.register_lifespan_task(close_websockets_on_stop)  # open tabs must not hold a stopping worker
    if get_settings().run_bots_in_web:
        from chatai.bots.runner import run_in_web

        app.register_lifespan_task(run_in_web)


_register_background_work()
