"""Team seats end to end on the real database, Redis and state tree: invitations (mailed or copied, single-use,
expiring, for one address), joining signed in or by signing up, roles, removal ending sessions at once, the
business switcher, inbox assignment with the mine / unassigned / all filter and its live nudge, and the team's
audit events as sentences in English and Russian."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.mail_models import OutboxMail
from chatai.db.models import AuditLog, Dialog, UserSession
from chatai.db.session import async_session
from chatai.security import token_hash
from chatai.services import accounts, assistants
from chatai.services import inbox as inbox_svc
from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL
from chatai.services.live import parse_event
from chatai.settings import get_settings
from chatai.team import assignment, invitations, members
from chatai.team.members import TeamError
from chatai.team.models import TeamInvitation, TeamMember
from chatai.web import session_cookie
from chatai.web.pages.bots import BotsState
from chatai.web.pages.team import TeamState
from chatai.web.pages.team_invite import InviteState
from chatai.web.state.access import REFUSED, BusinessState, upload_business
from chatai.web.state.auth import AuthState
from chatai.web.state.inbox import InboxState
from chatai.web.texts.team import audit_sentence
from tests.waits import PATIENCE
from tests.web.clients import signed_in_root

PASSWORD = "copper kettle 91 winds"


@pytest.fixture
async def shop(db):
    async with async_session() as s:
        owner_token = await accounts.sign_up(s, email="owner@example.com", password=PASSWORD)
        owner = await accounts.user_for_token(s, owner_token)
        assistant = await assistants.create_assistant(s, owner_id=owner.id, name="Support")
        dialogs = []
        for name in ("Anna", "Boris", "Clara"):
            dialog = Dialog(owner_id=owner.id, assistant_id=assistant.id, user_name=name,
                            last_message_at=datetime.now(UTC))
            s.add(dialog)
            dialogs.append(dialog)
        await s.commit()
        return {"owner_token": owner_token, "owner": owner, "dialogs": [d.id for d in dialogs]}


async def _owner_tab(shop):
    return await signed_in_root(shop["owner_token"])


async def _invite(shop, email: str, role: str) -> str:
    """Through the team page, as the owner; returns the link shown to copy (no SMTP in tests)."""
    root = await _owner_tab(shop)
    team = await root.get_state(TeamState)
    await TeamState.load_team.fn(team)
    await TeamState.handle_invite_submit.fn(team, {"email": email, "role": role})
    assert team.error == "" and team.invite_link.startswith(get_settings().public_url.rstrip("/")
                                                            + "/auth/invite?token=")
    return team.invite_link


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


async def test_owner_invites_without_mail_and_the_person_signs_up_through_the_link(shop):
    link = await _invite(shop, "Olga@Example.com", "operator")
    async with async_session() as s:
        row = (await s.execute(sa.select(TeamInvitation))).scalar_one()
        assert row.email == "olga@example.com" and row.role == "operator" and not row.mailed
        assert row.token_hash == token_hash(_token(link)) and _token(link) not in json.dumps(row.model_dump(),
                                                                                            default=str)
        assert (await s.execute(sa.select(sa.func.count()).select_from(OutboxMail))).scalar_one() == 0
        view = await invitations.peek(s, token=_token(link))
        assert view is not None and view.email == "olga@example.com" and not view.has_account
        session_token, business = await invitations.sign_up_and_accept(s, token=_token(link), password=PASSWORD,
                                                                        locale="ru")
        olga = await accounts.user_for_token(s, session_token)
        assert business == shop["owner"].id and olga.email == "olga@example.com" and olga.locale == "ru"
        # Single use: the same link works no more, for anyone.
        assert await invitations.peek(s, token=_token(link)) is None
        with pytest.raises(TeamError) as refused:
            await invitations.accept(s, token=_token(link), user_id=olga.id, email=olga.email)
        assert refused.value.code == "invitation_unusable"
        choices = await members.businesses_of(s, user_id=olga.id, email=olga.email)
    assert [(c.business_id, c.role) for c in choices] == [(olga.id, "owner"), (shop["owner"].id, "operator")]


async def test_an_invitation_is_mailed_when_smtp_is_set_up(shop, monkeypatch):
    monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")
    async with async_session() as s:
        await accounts.set_locale(s, user_id=shop["owner"].id, locale="ru")  # the mail goes in the owner's language
    root = await _owner_tab(shop)
    team = await root.get_state(TeamState)
    await TeamState.handle_invite_submit.fn(team, {"email": "ivan@example.com", "role": "manager"})
    assert team.invite_link == "" and "ivan@example.com" in team.message and "дн." in team.message
    async with async_session() as s:
        mail = (await s.execute(sa.select(OutboxMail))).scalar_one()
        invitation = (await s.execute(sa.select(TeamInvitation))).scalar_one()
    assert mail.kind == "team_invite" and mail.to_addr == "ivan@example.com" and invitation.mailed


async def test_an_invitation_refuses_another_address_an_expired_link_and_a_second_invite_voids_the_first(shop):
    first = await _invite(shop, "pavel@example.com", "operator")
    second = await _invite(shop, "pavel@example.com", "manager")
    async with async_session() as s:
        assert await invitations.peek(s, token=_token(first)) is None
        other_token = await accounts.sign_up(s, email="someone@example.com", password=PASSWORD)
        other = await accounts.user_for_token(s, other_token)
        with pytest.raises(TeamError) as refused:
            await invitations.accept(s, token=_token(second), user_id=other.id, email=other.email)
        assert refused.value.code == "invitation_other_email"
        await s.execute(sa.update(TeamInvitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await s.commit()
        assert await invitations.peek(s, token=_token(second)) is None
        assert (await s.execute(sa.select(sa.func.count()).select_from(TeamMember))).scalar_one() == 0


async def test_invitation_page_joins_a_signed_in_person_and_selects_the_business(shop):
    link = await _invite(shop, "vera@example.com", "manager")
    async with async_session() as s:
        vera_token = await accounts.sign_up(s, email="vera@example.com", password=PASSWORD)
    root = await signed_in_root(vera_token)
    # What /auth/invite's cookie gives the page at the WebSocket handshake (never the address or a state var).
    session_cookie.bind_invite((await root.get_state(AuthState)).router.session.session_id, _token(link))
    invite = await root.get_state(InviteState)
    await InviteState.load_invite.fn(invite)
    assert "owner@example.com" in invite.intro and "Manager" in invite.intro and invite.other_email == ""
    result = await InviteState.accept_invite.fn(invite)
    assert "/dashboard" in repr(result) and invite.error == ""
    assert (await root.get_state(BusinessState)).business_id == str(shop["owner"].id)
    bots = await root.get_state(BotsState)
    assert REFUSED not in repr(await BotsState.load_bots.fn(bots))  # a manager opens the owner's bots


async def test_the_owner_changes_a_role_and_removes_a_person_whose_open_tab_is_refused_at_once(shop):
    link = await _invite(shop, "max@example.com", "operator")
    async with async_session() as s:
        max_token, _ = await invitations.sign_up_and_accept(s, token=_token(link), password=PASSWORD, locale="en")
        max_user = await accounts.user_for_token(s, max_token)
    max_tab = await signed_in_root(max_token)
    (await max_tab.get_state(BusinessState)).business_id = str(shop["owner"].id)
    inbox = await max_tab.get_state(InboxState)
    assert REFUSED not in repr(await InboxState.load_inbox.fn(inbox)) and len(inbox.dialogs) == 3

    root = await _owner_tab(shop)
    team = await root.get_state(TeamState)
    await TeamState.load_team.fn(team)
    assert [(p["email"], p["role"]) for p in team.people] == [("max@example.com", "operator")]
    await TeamState.change_role.fn(team, str(max_user.id), "manager")
    assert team.people[0]["role"] == "manager"
    await TeamState.change_role.fn(team, str(max_user.id), "owner")  # not a team role
    assert team.error and team.people[0]["role"] == "manager"
    await TeamState.remove_member.fn(team, str(max_user.id))
    assert team.people == [] and "max@example.com" in team.message
    async with async_session() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(UserSession)
                                .where(UserSession.user_id == max_user.id))).scalar_one() == 0
    assert "/signin" in repr(await InboxState.load_more.fn(inbox))  # the open tab, on its next event
    actions = [a["text"] for a in team.activity]
    assert actions[0] == "owner@example.com removed max@example.com (Manager)"
    assert "owner@example.com changed the role of max@example.com from Operator to Manager" in actions
    assert "max@example.com joined as Operator" in actions
    assert "owner@example.com invited max@example.com as Operator" in actions


async def test_team_audit_sentences_read_in_russian_too():
    details = {"email": "max@example.com", "before": "operator", "after": "manager"}
    assert audit_sentence("ru", action="team.role_change", actor="owner@example.com", details=details) == \
        "owner@example.com изменил(а) роль max@example.com: Оператор → Менеджер"
    assert audit_sentence("ru", action="team.assign", actor="a@example.com",
                          details={"before": "b@example.com", "after": ""}) == \
        "a@example.com снял(а) ответственного b@example.com с диалога"


async def test_upload_goes_to_the_selected_business_only_for_roles_that_may_write(shop):
    async with async_session() as s:
        tokens = {}
        for role in ("manager", "operator"):
            tokens[role] = await accounts.sign_up(s, email=f"{role}@example.com", password=PASSWORD)
            person = await accounts.user_for_token(s, tokens[role])
            await members.add_member(s, business_id=shop["owner"].id, user_id=person.id, role=role)
        stranger_token = await accounts.sign_up(s, email="stranger@example.com", password=PASSWORD)
        await s.commit()
        people = {k: await accounts.user_for_token(s, v) for k, v in {**tokens, "stranger": stranger_token}.items()}
    for who, expected in (("manager", shop["owner"].id), ("operator", None), ("stranger", None)):
        root = await signed_in_root(tokens.get(who, stranger_token))
        (await root.get_state(BusinessState)).business_id = str(shop["owner"].id)
        assert await upload_business(await root.get_state(BusinessState), people[who], "kb_write") == expected, who


async def test_assignment_filters_mine_and_unassigned_and_nudges_the_other_tabs(shop):
    from chatai.cache import get_redis

    async with async_session() as s:
        op_token = await accounts.sign_up(s, email="op@example.com", password=PASSWORD)
        op = await accounts.user_for_token(s, op_token)
        await members.add_member(s, business_id=shop["owner"].id, user_id=op.id, role="operator")
        await s.commit()
    tab = await signed_in_root(op_token)
    (await tab.get_state(BusinessState)).business_id = str(shop["owner"].id)
    inbox = await tab.get_state(InboxState)
    await InboxState.load_inbox.fn(inbox)
    anna, boris, _ = shop["dialogs"]
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(DIALOG_EVENTS_CHANNEL)
    try:
        await InboxState.open_dialog.fn(inbox, str(anna))
        await InboxState.take_open_dialog.fn(inbox)
        assert inbox.header["mine"] == "1" and inbox.header["assignee"] == "op@example.com"
        message = None
        for _ in range(int(PATIENCE)):  # the subscription's own confirmation comes back as None first
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                break
        event = parse_event(message["data"])
        assert event.dialog_id == anna and event.owner_id == shop["owner"].id
    finally:
        await pubsub.aclose()
    await InboxState.open_dialog.fn(inbox, str(boris))
    await InboxState.assign_open_dialog.fn(inbox, str(shop["owner"].id))
    assert inbox.header["assignee"] == "owner@example.com" and inbox.header["mine"] == ""
    await InboxState.set_filter_scope.fn(inbox, "mine")
    assert [d["user_name"] for d in inbox.dialogs] == ["Anna"]
    await InboxState.set_filter_scope.fn(inbox, "unassigned")
    assert [d["user_name"] for d in inbox.dialogs] == ["Clara"]
    await InboxState.set_filter_scope.fn(inbox, "all")
    assert sorted(d["user_name"] for d in inbox.dialogs) == ["Anna", "Boris", "Clara"]
    assert {d["user_name"]: d["assignee"] for d in inbox.dialogs} == {
        "Anna": "op@example.com", "Boris": "owner@example.com", "Clara": ""}
    # Nobody outside the business can be assigned, and another business's dialog cannot be touched.
    await InboxState.assign_open_dialog.fn(inbox, str(uuid.uuid4()))
    assert inbox.error and inbox.header["assignee"] == "owner@example.com"
    async with async_session() as s:
        with pytest.raises(TeamError):
            await assignment.assign(s, business_id=op.id, actor_id=op.id, dialog_id=anna, user_id=op.id)
        page = await inbox_svc.list_dialogs(s, owner_id=shop["owner"].id, filters=inbox_svc.InboxFilter(
            scope="unassigned", scope_user=op.id))
        actions = (await s.execute(sa.select(AuditLog.action, AuditLog.details).where(
            AuditLog.action == "team.assign").order_by(AuditLog.created_at))).all()
    assert [r.user_name for r in page.rows] == ["Clara"]
    # Taking a dialog over makes the person its assignee when nobody had it (the others see who holds it).
    await InboxState.open_dialog.fn(inbox, str(shop["dialogs"][2]))
    await InboxState.take_over.fn(inbox)
    assert inbox.error == "" and inbox.header["held_by"] == "me" and inbox.header["assignee"] == "op@example.com"
    assert [(a, d["after"]) for a, d in actions] == [("team.assign", "op@example.com"),
                                                     ("team.assign", "owner@example.com")]


async def test_switching_to_a_business_without_a_seat_is_refused_and_falls_back(shop):
    async with async_session() as s:
        token = await accounts.sign_up(s, email="nobody@example.com", password=PASSWORD)
    root = await signed_in_root(token)
    business = await root.get_state(BusinessState)
    assert REFUSED in repr(await BusinessState.switch_business.fn(business, str(shop["owner"].id)))
    assert business.business_id != str(shop["owner"].id)
    await BusinessState.load_choices.fn(business)
    assert [c["label"] for c in business.choices] == ["My business"]


async def test_the_mailed_link_moves_the_token_into_an_http_only_cookie(shop):
    import httpx
    from starlette.applications import Starlette

    link = await _invite(shop, "cookie@example.com", "operator")
    app = Starlette(routes=session_cookie.auth_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        response = await client.get(link.split(get_settings().public_url.rstrip("/"), 1)[1])
    assert response.status_code == 303 and response.headers["location"] == "/invite"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{session_cookie.INVITE_COOKIE}={_token(link)};") and "HttpOnly" in cookie


async def test_the_address_selects_a_business_only_where_the_person_has_a_seat(shop):
    from reflex.istate.data import RouterData

    async with async_session() as s:
        member_token = await accounts.sign_up(s, email="member@example.com", password=PASSWORD)
        member = await accounts.user_for_token(s, member_token)
        await members.add_member(s, business_id=shop["owner"].id, user_id=member.id, role="operator")
        await s.commit()
        stranger_token = await accounts.sign_up(s, email="outsider@example.com", password=PASSWORD)
    selected = {}
    for who, token in (("member", member_token), ("stranger", stranger_token)):
        root = await signed_in_root(token)
        path = f"/dashboard?business={shop['owner'].id}"
        router = RouterData.from_router_data({"pathname": "/dashboard", "asPath": path,
                                              "query": {"business": str(shop["owner"].id)}, "headers": {}})
        root.router = dataclasses.replace(router, session=root.router.session)
        business = await root.get_state(BusinessState)
        await BusinessState.select_from_address.fn(business)
        selected[who] = business.business_id
    assert selected == {"member": str(shop["owner"].id), "stranger": ""}
