"""Every event handler of every dashboard state, walked for every role (owner, manager, operator) and for a
stranger who forces the business into their tab: refused or permitted exactly as chatai/team/roles.py says.

Table-driven over the states' `event_handlers` (as tests/web/test_admin_panel.py does for the admin states): a
new handler is walked without being listed, and a new state must be classified below or the coverage test fails.
A refusal is the refusal redirect (or, for handlers that answer nothing, a tab with none of the business's
data); and after the stranger's and the operator's walks nothing of the business has changed.
"""

from __future__ import annotations

import inspect
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from reflex.state import BaseState, State

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import Assistant, AuditLog, Bot, Dialog, Document, Message, QAPair, User
from chatai.db.session import async_session
from chatai.security import encrypt_secret
from chatai.services import accounts, assistants, billing
from chatai.team import members, roles
from chatai.team.models import DialogAssignment, TeamInvitation, TeamMember
from chatai.web.components.balance_banner import BalanceBannerState
from chatai.web.components.document_language import DocumentLanguageState
from chatai.web.components.email_banner import EmailBannerState, MailStatusState
from chatai.web.components.notification_prefs import NotificationPrefsState
from chatai.web.components.telegram_alerts import TelegramAlertsState
from chatai.web.components.time_zone_setting import TimeZoneState
from chatai.web.live import LiveBadgeState
from chatai.web.pages.assistants import AssistantsState
from chatai.web.pages.auth import (
    ForgotPasswordState,
    PasswordStrengthState,
    ResetPasswordState,
    SignInState,
    SignUpState,
)
from chatai.web.pages.billing import BillingState
from chatai.web.pages.bots import BotsState
from chatai.web.pages.kb_search import KbSearchState
from chatai.web.pages.overview import OverviewState, QaPrefillState
from chatai.web.pages.settings_page import SettingsState
from chatai.web.pages.team import TeamState
from chatai.web.pages.team_invite import InviteState
from chatai.web.pages.widget import WidgetState
from chatai.web.state.access import REFUSED, BusinessState
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox import InboxState
from chatai.web.state.inbox_canned import CannedRepliesState
from chatai.web.state.inbox_tools import InboxToolsState
from chatai.web.state.knowledge import KnowledgeState
from chatai.web.state.playground import PlaygroundState
from tests.web.clients import signed_in_root

PASSWORD = "copper kettle 91 winds"
FRAMEWORK_HANDLERS = {"setvar"}

# The capability each dashboard state's handlers need (chatai/team/roles.py), with the exceptions by name.
# None: any seat in the selected business (the switcher itself).
REQUIRED: dict[type[BaseState], str | None] = {
    OverviewState: roles.ANALYTICS, QaPrefillState: roles.KB_WRITE, AssistantsState: roles.ASSISTANTS,
    KnowledgeState: roles.KB_READ, KbSearchState: roles.KB_READ, BotsState: roles.BOTS, InboxState: roles.INBOX,
    LiveBadgeState: roles.INBOX, BillingState: roles.BILLING, BalanceBannerState: roles.BILLING,
    TeamState: roles.TEAM, BusinessState: None,
    # From the branches merged beside team seats: the website widget (its allowed sites above all), the
    # playground (never charged: every role that reads the knowledge base may try the assistant), the inbox
    # tools (notes, labels on a dialog, saved replies, the customer card: every role of the inbox), the Telegram
    # alerts card (linking people's Telegram accounts: owner or manager).
    WidgetState: roles.WIDGET, PlaygroundState: roles.KB_READ, InboxToolsState: roles.INBOX,
    CannedRepliesState: roles.INBOX, TelegramAlertsState: roles.OPERATOR_ALERTS,
}
REQUIRED_BY_NAME = {
    **{(KnowledgeState, n): roles.KB_WRITE
       for n in ("delete_document", "reindex_document", "handle_qa_submit", "delete_qa_pair")},
    # The business's label set and saved replies: operators use them, owners and managers keep them.
    **{(InboxToolsState, n): roles.INBOX_SETUP
       for n in ("handle_label_create", "handle_label_rename", "set_label_color", "delete_label")},
    **{(CannedRepliesState, n): roles.INBOX_SETUP for n in ("save_canned", "delete_canned")},
}
# Touch only the tab's own state (a dialog opened or closed, a field being typed): no data, no I/O. The
# coverage test checks they are plain functions, so none of them can start reading the database unnoticed.
LOCAL = {"close_dialog", "clear_chat", "start_qa_edit", "cancel_qa_edit", "dismiss_notice", "set_create_open",
         "set_edit_open", "start_edit", "choose_style", "edit_advanced", "set_connect_assistant_id",
         "set_events_open", "start_replace", "cancel_replace", "set_invite_role",
         # the inbox tools' and the reply box's own fields, the widget form's fields before saving
         "leave_dialog", "forget_dialog", "set_edit_shortcut", "set_edit_body", "start_new", "reset_draft",
         "clear_draft", "set_selected_bot", "set_field", "handle_reply_key"}
# Walked by their own tests: uploads come with their own request cookie (test_team_flows.py checks
# upload_business per role), and the browser's refusal of a too large file only reads the tab's language;
# pollers need a connected browser tab and load nothing for a refused role.
SEPARATE = {(KnowledgeState, "handle_upload"), (KnowledgeState, "handle_upload_rejected"),
            (KnowledgeState, "poll_progress"), (BotsState, "poll_status"), (WidgetState, "handle_avatar"),
            # Pushed by the server into a locked tab with objects no browser can send (an Access, a change, a
            # typing board); each re-checks the tab's access first: tests/web/test_live_fanout.py and
            # tests/inbox_tools/test_tools_handlers.py walk them.
            (InboxState, "apply_live"), (InboxToolsState, "apply_live")}
# Personal: the person's own account (password, sessions, language, mail prefs), whatever the business.
PERSONAL = {SettingsState, NotificationPrefsState, EmailBannerState, TimeZoneState}
# Not dashboard states: signed-out pages, the admin panel (tests/web/test_admin_panel.py), the language.
OTHERS = {AuthState, SignInState, SignUpState, ForgotPasswordState, ResetPasswordState, PasswordStrengthState,
          InviteState, DocumentLanguageState, MailStatusState}
# On every dashboard page (the sidebar, the banner): a role without the capability gets nothing, quietly, since
# a redirect would push an operator off every page. Only the no-data check applies to them.
QUIET = {(BalanceBannerState, "load_balance_banner"), (QaPrefillState, "prefill_qa"),
         # on the personal settings page: an operator gets no Telegram alerts card, not a redirect
         (TelegramAlertsState, "load_telegram_alerts")}
MARKERS = ("Marker Assistant", "marker.txt", "Marker question", "marker_bot", "Marker Customer", "Marker secret")


@pytest.fixture
async def world(db):
    async with async_session() as s:
        tokens = {}
        for name in ("owner", "manager", "operator", "stranger"):
            tokens[name] = await accounts.sign_up(s, email=f"{name}@example.com", password=PASSWORD)
        ids = {name: (await accounts.user_for_token(s, token)).id for name, token in tokens.items()}
        owner = ids["owner"]
        assistant = await assistants.create_assistant(s, owner_id=owner, name="Marker Assistant")
        document = Document(assistant_id=assistant.id, filename="marker.txt", content_hash="h" * 64, status="ready")
        pair = QAPair(assistant_id=assistant.id, question="Marker question", answer="Marker answer")
        bot = Bot(assistant_id=assistant.id, owner_id=owner, telegram_bot_id=42, username="marker_bot",
                  token_encrypted=encrypt_secret("42:" + "x" * 35), token_hint="42:…xxxx", status="running")
        dialog = Dialog(owner_id=owner, assistant_id=assistant.id, user_name="Marker Customer",
                        last_message_at=datetime.now(UTC))
        s.add_all([document, pair, bot, dialog])
        await s.flush()
        s.add(Message(dialog_id=dialog.id, role="user", text="Marker secret question"))
        await members.add_member(s, business_id=owner, user_id=ids["manager"], role="manager")
        await members.add_member(s, business_id=owner, user_id=ids["operator"], role="operator")
        await s.commit()
    return {"tokens": tokens, "ids": ids, "assistant": str(assistant.id), "document": str(document.id),
            "qa": str(pair.id), "bot": str(bot.id), "dialog": str(dialog.id)}


def _states() -> list[type[BaseState]]:
    found, todo = [], [State]
    while todo:
        cls = todo.pop()
        for sub in cls.get_substates():
            todo.append(sub)
            found.append(sub)
    return found


def _argument(name: str, annotation: str, world: dict) -> object:
    """A plausible value aimed at the owner's data for each parameter."""
    if "dict" in annotation and "list" not in annotation:
        # The token fails the format check before any request: no handler reaches out beyond loopback.
        return {"name": "changed", "token": "not a bot token", "question": "changed", "answer": "changed",
                "query": "", "amount": "100", "code": "SOME-PROMO-CODE", "email": "newcomer@example.com",
                "role": "manager", "reply": "hello", "search": "", "message": "", "temperature": "0.2",
                "top_k": "3", "score_threshold": "0.2", "qa_direct_threshold": "0.9", "handoff_timeout_minutes": "5"}
    if "list" in annotation:
        return []
    if "bool" in annotation:
        return True
    by_name = {"assistant_id": world["assistant"], "bot_id": world["bot"], "document_id": world["document"],
               "qa_id": world["qa"], "dialog_id": world["dialog"], "user_id": str(world["ids"]["operator"]),
               "role": "manager", "business_id": str(world["ids"]["owner"]), "amount": "500", "kind": "balance_low",
               "owner_id": world["ids"]["owner"], "dialog_ids": {uuid.UUID(world["dialog"])},
               "invitation_id": str(uuid.uuid4()), "style": "precise", "field": "top_k", "value": "all"}
    return by_name.get(name, "all")


def _calls(world: dict):
    for state_cls in REQUIRED:
        for name, handler in state_cls.event_handlers.items():
            if name in FRAMEWORK_HANDLERS or name in LOCAL or (state_cls, name) in SEPARATE:
                continue
            params = list(inspect.signature(handler.fn).parameters.values())[1:]
            args = [_argument(p.name, str(p.annotation), world) for p in params if p.kind != p.KEYWORD_ONLY]
            yield state_cls, name, handler, args


async def _run(handler, state, args):
    result = handler.fn(state, *args)
    if inspect.isasyncgen(result):
        items = [r async for r in result]
        return next((r for r in items if r is not None), None)
    return await result if inspect.isawaitable(result) else result


async def _tab(world: dict, who: str) -> State:
    root = await signed_in_root(world["tokens"][who])
    # Everyone aims at the owner's business: a member by choice, the stranger by forcing the id in.
    (await root.get_state(BusinessState)).business_id = str(world["ids"]["owner"])
    return root


def _aim(state, world: dict) -> None:
    """The ids a tab would hold after opening the owner's things."""
    if isinstance(state, InboxState):
        state.open_id = world["dialog"]
    if isinstance(state, KnowledgeState):
        state.assistant_id = world["assistant"]
    if isinstance(state, AssistantsState):
        state.editing = {"id": world["assistant"]}
    if isinstance(state, BotsState):
        state.replace_id = world["bot"]


def _permitted(role: str | None, state_cls, name: str) -> bool:
    if role is None:
        return False
    capability = REQUIRED_BY_NAME.get((state_cls, name), REQUIRED[state_cls])
    return capability is None or roles.allowed(role, capability)


async def _walk(world: dict, who: str, role: str | None) -> dict[str, int]:
    counts = {"refused": 0, "permitted": 0}
    for state_cls, name, handler, args in _calls(world):
        root = await _tab(world, who)
        state = await root.get_state(state_cls)
        _aim(state, world)
        result = await _run(handler, state, args)
        shown = repr(result)
        if _permitted(role, state_cls, name):
            assert REFUSED not in shown and "/signin" not in shown, f"{who}: {state_cls.__name__}.{name} refused"
            counts["permitted"] += 1
            continue
        dump = json.dumps(root.dict(), default=str)
        leaked = [m for m in MARKERS if m in dump]
        assert not leaked, f"{who}: {state_cls.__name__}.{name} showed {leaked}"
        if (state_cls, name) in QUIET:
            assert result is None
        elif result is False:  # a helper exposed as a handler (LiveBadgeState.refresh) answering "not yours"
            pass
        elif result is not None or name.startswith(("load_", "handle_", "set_", "open_", "take", "assign", "switch")):
            assert REFUSED in shown, f"{who}: {state_cls.__name__}.{name} did not refuse ({shown[:120]})"
        counts["refused"] += 1
    return counts


async def _snapshot(world: dict) -> dict:
    async with async_session() as s:
        assistant = await s.get(Assistant, uuid.UUID(world["assistant"]))
        bot = await s.get(Bot, uuid.UUID(world["bot"]))
        count = lambda model: s.execute(sa.select(sa.func.count()).select_from(model))  # noqa: E731
        return {
            "assistant": (assistant.name, assistant.top_k), "bot": (bot.desired_state, bot.token_hint),
            "document": (await s.get(Document, uuid.UUID(world["document"]))).status,
            "qa": (await s.get(QAPair, uuid.UUID(world["qa"]))).question,
            "members": sorted((m.user_id, m.role) for m in (await s.execute(sa.select(TeamMember))).scalars()),
            "invitations": (await count(TeamInvitation)).scalar_one(),
            "assignments": (await count(DialogAssignment)).scalar_one(),
            "status": (await s.get(Dialog, uuid.UUID(world["dialog"]))).status,
            "operator_messages": (await s.execute(sa.select(sa.func.count()).select_from(Message)
                                                  .where(Message.role == "operator"))).scalar_one(),
            "balance": (await billing.get_balance(s, user_id=world["ids"]["owner"])).balance_micros,
            "team_audit": (await s.execute(sa.select(sa.func.count()).select_from(AuditLog)
                                           .where(AuditLog.action.like("team.%")))).scalar_one(),
        }


def test_every_state_with_handlers_is_classified():
    import chatai.web.pages.admin as admin_pages  # noqa: F401

    classified = set(REQUIRED) | PERSONAL | OTHERS
    unclassified = [cls.__name__ for cls in _states()
                    if cls not in classified and not cls.__module__.startswith(("chatai.web.pages.admin", "reflex"))
                    and set(cls.event_handlers) - FRAMEWORK_HANDLERS and cls.__module__.startswith("chatai")]
    assert unclassified == []
    for state_cls in REQUIRED:
        for name in set(state_cls.event_handlers) & LOCAL:
            assert not inspect.iscoroutinefunction(state_cls.event_handlers[name].fn), f"{state_cls.__name__}.{name}"


async def test_a_stranger_forcing_the_business_is_refused_everywhere(world):
    before = await _snapshot(world)
    counts = await _walk(world, "stranger", None)
    assert counts["permitted"] == 0 and counts["refused"] >= 55  # the table really covers the dashboard
    assert await _snapshot(world) == before


async def test_an_operator_gets_the_inbox_analytics_and_reads_the_knowledge_base_only(world):
    before = await _snapshot(world)
    counts = await _walk(world, "operator", "operator")
    assert counts["permitted"] >= 20 and counts["refused"] >= 30
    after = await _snapshot(world)
    # What an operator may change: the dialog (taken over, answered, assigned), and so the team's audit.
    for key in ("status", "operator_messages", "assignments", "team_audit"):
        before.pop(key), after.pop(key)
    assert after == before


async def test_a_manager_gets_everything_but_billing_and_the_team(world):
    counts = await _walk(world, "manager", "manager")
    assert counts["refused"] >= 10 and counts["permitted"] >= 40
    async with async_session() as s:
        assert await s.get(Bot, uuid.UUID(world["bot"])) is None  # a manager may disconnect bots
        assert await s.get(Assistant, uuid.UUID(world["assistant"])) is None  # and delete assistants
        assert (await s.execute(sa.select(TeamMember.role).where(
            TeamMember.user_id == world["ids"]["operator"]))).scalar_one() == "operator"  # but not the team


async def test_the_owner_is_permitted_everything(world):
    counts = await _walk(world, "owner", "owner")
    assert counts["refused"] == 0 and counts["permitted"] >= 55


async def test_a_role_change_applies_to_the_next_event_of_an_open_tab(world):
    root = await _tab(world, "manager")
    bots = await root.get_state(BotsState)
    assert REFUSED not in repr(await BotsState.load_bots.fn(bots))
    assert [b["username"] for b in bots.bots] == ["marker_bot"]
    async with async_session() as s:
        await members.change_role(s, business_id=world["ids"]["owner"], actor_id=world["ids"]["owner"],
                                  user_id=world["ids"]["manager"], role="operator")
    assert REFUSED in repr(await BotsState.pause_bot.fn(bots, world["bot"]))
    async with async_session() as s:
        assert (await s.get(Bot, uuid.UUID(world["bot"]))).desired_state == "running"
        user = await s.get(User, world["ids"]["manager"])
    assert user is not None
