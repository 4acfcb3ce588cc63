"""Team seats: the team page, invitations, the business switcher, inbox assignment, team audit events."""

from __future__ import annotations

EN: dict[str, str] = {
    "nav_team": "Team",
    "team_title": "Team",
    "team_subtitle": "Invite people to answer customers with you. Operators work in the inbox and read the "
                     "knowledge base; managers can do everything but billing and the team.",
    "team_role_owner": "Owner",
    "team_role_manager": "Manager",
    "team_role_operator": "Operator",
    "team_invite_title": "Invite a person",
    "team_invite_email": "Their email",
    "team_invite_role": "Role",
    "team_invite_send": "Invite",
    "team_invite_mailed": "Invitation sent to {email}. The link works once, for {days} days.",
    "team_invite_copy": "Mail is not set up, so send this link to {email} yourself (it works once, for {days} days):",
    "team_members": "People",
    "team_members_empty": "Nobody else yet: invite someone above.",
    "team_joined": "Joined",
    "team_remove": "Remove",
    "team_removed": "{email} was removed from the team and signed out everywhere.",
    "team_pending": "Invitations waiting",
    "team_pending_until": "until {date}",
    "team_revoke": "Withdraw",
    "team_activity": "Team activity",
    "team_activity_empty": "Nothing yet.",
    "team_refused": "Your role in this business does not allow that.",
    "team_refused_page": "Your role in this business does not allow opening that page.",
    "team_switch_label": "Business",
    "team_my_business": "My business",
    "team_business_of": "{owner} · {role}",
    # invitation page
    "team_join_title": "Join a team on ChatAI",
    "team_join_text": "{owner} invites {email} to their business as {role}.",
    "team_join_accept": "Join",
    "team_join_signin": "Sign in and join",
    "team_join_signup": "Create account and join",
    "team_join_password_signin": "Your password",
    "team_join_password_new": "Choose a password",
    "team_join_other_email": "You are signed in as {me}, but this invitation is for {email}. "
                             "Sign out and open the link again.",
    # inbox
    "team_scope_all": "All dialogs",
    "team_scope_mine": "Mine",
    "team_scope_unassigned": "Unassigned",
    "team_assignee": "Assigned to",
    "team_assign_nobody": "Nobody",
    "team_take": "Take it",
    "team_assigned_to_you": "Assigned to you",
    # errors (service codes, chatai/team/members.py TeamError)
    "team_err_role_invalid": "Choose a role: operator or manager.",
    "team_err_invalid_email": "Enter a valid email address.",
    "team_err_own_business": "That is the owner's own address.",
    "team_err_already_member": "This person is already in the team.",
    "team_err_too_many_invitations": "Too many invitations are waiting. Withdraw some first.",
    "team_err_member_not_found": "That person is not in the team any more.",
    "team_err_invitation_not_found": "That invitation was already used or withdrawn.",
    "team_err_invitation_unusable": "This invitation link is not valid any more: it was used, withdrawn or has "
                                    "expired. Ask for a new one.",
    "team_err_invitation_other_email": "This invitation is for another email address.",
    "team_err_dialog_not_found": "That dialog does not exist any more.",
    "team_err_assign": "The dialog could not be assigned: the dialog or the person is gone.",
    # audit (the team's own log, and the admin log's kind filter)
    "adm_audit_kind_team": "Teams",
    "team_audit_team.invite": "{actor} invited {email} as {role}",
    "team_audit_team.invite_revoke": "{actor} withdrew the invitation of {email}",
    "team_audit_team.join": "{email} joined as {role}",
    "team_audit_team.role_change": "{actor} changed the role of {email} from {before} to {after}",
    "team_audit_team.remove": "{actor} removed {email} ({role})",
    "team_audit_team.assign": "{actor} assigned a dialog to {after}",
    "team_audit_team.unassign": "{actor} unassigned a dialog from {before}",
}
RU: dict[str, str] = {
    "nav_team": "Команда",
    "team_title": "Команда",
    "team_subtitle": "Пригласите людей отвечать клиентам вместе с вами. Операторы работают во входящих и читают "
                     "базу знаний; менеджерам доступно всё, кроме оплаты и команды.",
    "team_role_owner": "Владелец",
    "team_role_manager": "Менеджер",
    "team_role_operator": "Оператор",
    "team_invite_title": "Пригласить человека",
    "team_invite_email": "Его адрес",
    "team_invite_role": "Роль",
    "team_invite_send": "Пригласить",
    "team_invite_mailed": "Приглашение отправлено на {email}. Ссылка действует один раз, {days} дн.",
    "team_invite_copy": "Почта не настроена, поэтому отправьте эту ссылку на {email} сами "
                        "(она действует один раз, {days} дн.):",
    "team_members": "Люди",
    "team_members_empty": "Пока больше никого: пригласите кого-нибудь выше.",
    "team_joined": "В команде с",
    "team_remove": "Удалить",
    "team_removed": "{email} удалён из команды, все его сеансы завершены.",
    "team_pending": "Ожидающие приглашения",
    "team_pending_until": "до {date}",
    "team_revoke": "Отозвать",
    "team_activity": "События команды",
    "team_activity_empty": "Пока ничего.",
    "team_refused": "Ваша роль в этом бизнесе этого не позволяет.",
    "team_refused_page": "Ваша роль в этом бизнесе не позволяет открыть ту страницу.",
    "team_switch_label": "Бизнес",
    "team_my_business": "Мой бизнес",
    "team_business_of": "{owner} — {role}",
    "team_join_title": "Присоединиться к команде в ChatAI",
    "team_join_text": "{owner} приглашает {email} в свой бизнес, роль: {role}.",
    "team_join_accept": "Присоединиться",
    "team_join_signin": "Войти и присоединиться",
    "team_join_signup": "Создать аккаунт и присоединиться",
    "team_join_password_signin": "Ваш пароль",
    "team_join_password_new": "Придумайте пароль",
    "team_join_other_email": "Вы вошли как {me}, а приглашение для {email}. Выйдите и откройте ссылку снова.",
    "team_scope_all": "Все диалоги",
    "team_scope_mine": "Мои",
    "team_scope_unassigned": "Без ответственного",
    "team_assignee": "Ответственный",
    "team_assign_nobody": "Никто",
    "team_take": "Взять себе",
    "team_assigned_to_you": "Назначен вам",
    "team_err_role_invalid": "Выберите роль: оператор или менеджер.",
    "team_err_invalid_email": "Введите правильный адрес электронной почты.",
    "team_err_own_business": "Это адрес самого владельца.",
    "team_err_already_member": "Этот человек уже в команде.",
    "team_err_too_many_invitations": "Слишком много ожидающих приглашений. Сначала отзовите некоторые.",
    "team_err_member_not_found": "Этого человека уже нет в команде.",
    "team_err_invitation_not_found": "Это приглашение уже использовано или отозвано.",
    "team_err_invitation_unusable": "Ссылка приглашения больше не действует: её использовали, отозвали или срок "
                                    "истёк. Попросите новую.",
    "team_err_invitation_other_email": "Это приглашение для другого адреса.",
    "team_err_dialog_not_found": "Этого диалога больше нет.",
    "team_err_assign": "Не удалось назначить диалог: диалога или человека больше нет.",
    "adm_audit_kind_team": "Команды",
    "team_audit_team.invite": "{actor} пригласил(а) {email}, роль: {role}",
    "team_audit_team.invite_revoke": "{actor} отозвал(а) приглашение {email}",
    "team_audit_team.join": "{email} присоединился(-ась), роль: {role}",
    "team_audit_team.role_change": "{actor} изменил(а) роль {email}: {before} → {after}",
    "team_audit_team.remove": "{actor} удалил(а) {email} ({role})",
    "team_audit_team.assign": "{actor} назначил(а) диалог: {after}",
    "team_audit_team.unassign": "{actor} снял(а) ответственного {before} с диалога",
}

ROLE_KEYS = {"owner": "team_role_owner", "manager": "team_role_manager", "operator": "team_role_operator"}


def role_label(locale: str, role: str) -> str:
    from chatai.web.i18n import text

    return text(locale, ROLE_KEYS.get(role, "team_role_operator"))


def audit_sentence(locale: str, *, action: str, actor: str, details: dict) -> str:
    """A team audit entry as a sentence in the reader's language: stored role codes become words."""
    from chatai.web.i18n import text

    def value(key: str) -> str:
        raw = str(details.get(key) or "")
        return role_label(locale, raw) if raw in ROLE_KEYS else raw

    if action == "team.assign" and not details.get("after"):
        action = "team.unassign"
    key = f"team_audit_{action}"
    return text(locale, key, actor=actor or "—", email=value("email"), role=value("role"), before=value("before"),
                after=value("after"))
