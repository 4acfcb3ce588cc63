"""Who is asking, for which business, with which role: the one place every dashboard page and handler asks.

    access = await require_access(self, roles.BOTS)
    if access is None:
        return await refusal(self)
    ... owner_id=access.business_id ...

`require_access` re-checks the session (AuthState.current_user: sign-out, blocking, expiry) and the person's
seat in the selected business in the database on every call, so a role change or a removal applies to the
very next event of an open tab. The selected business is only a wish kept in the browser: a business the
person has no seat in (removed meanwhile, or an id forced into the state) is refused and the choice goes back
to their own business. Capabilities are chatai/team/roles.py.
"""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx

from chatai.db.session import async_session
from chatai.services.accounts import CurrentUser
from chatai.team import members
from chatai.team.roles import CAPABILITIES, Access
from chatai.web import routes
from chatai.web.i18n import text
from chatai.web.state.auth import AuthState, require_user
from chatai.web.texts.team import role_label

REFUSED = routes.OVERVIEW + "?refused=1"


class BusinessState(rx.State):
    """The business this browser works on (a choice, always re-checked) and what the UI may offer."""

    business_id: str = rx.LocalStorage("", name="chatai_business")
    role: str = ""
    choices: list[dict[str, str]] = []

    @rx.var
    def allowed(self) -> list[str]:
        """The capabilities of the role: the sidebar hides what the role may not open. Before the first event
        has read the role, everything is shown (as before teams): hiding is a courtesy, handlers refuse anyway,
        and an owner's page must not wait for a round trip to show its controls."""
        role = self.role or "owner"
        return [cap for cap, roles in CAPABILITIES.items() if role in roles]

    @rx.event
    async def load_choices(self):
        """The switcher mounted: the person's businesses (their own first)."""
        access = await require_access(self)
        if access is None:
            self.choices = []
            return await refusal(self)
        async with async_session() as session:
            found = await members.businesses_of(session, user_id=access.user_id, email=access.email)
        locale = (await self.get_state(AuthState)).locale
        self.choices = [{"id": str(c.business_id), "role": c.role,
                         "label": text(locale, "team_my_business") if c.business_id == access.user_id
                         else text(locale, "team_business_of", owner=c.owner_email, role=role_label(locale, c.role))}
                        for c in found]

    @rx.event
    async def select_from_address(self):
        """`?business=ID` on the overview (where joining a team lands): select it when the person has a seat
        there. Carried in the address because the browser's saved choice may not be written yet when the
        sign-in route sends the new session to the dashboard."""
        wanted = str(self.router.url.query_parameters.get("business", "") or "")[:36]
        if not wanted or wanted == self.business_id:
            return
        previous = self.business_id
        self.business_id = wanted
        if await require_access(self) is None:
            self.business_id = previous

    @rx.event
    async def switch_business(self, business_id: str):
        """Select another business; every page reads the selection from here on its next event."""
        previous = self.business_id
        self.business_id = business_id
        if await require_access(self) is None:
            self.business_id = previous
            return await refusal(self)
        return rx.redirect(routes.OVERVIEW)


def _selected(value: str, user_id: uuid.UUID) -> uuid.UUID:
    try:
        return uuid.UUID(value) if value else user_id
    except ValueError:
        return user_id


async def require_access(state: rx.State, capability: str = "") -> Access | None:
    """The asking person's access to the selected business, when their role has `capability` (any role when
    empty); None otherwise (the caller returns `refusal`)."""
    user = await require_user(state)
    business = await state.get_state(BusinessState)
    if user is None:
        business.role = ""
        return None
    selected = _selected(str(business.business_id), user.id)
    async with async_session() as session:
        access = await members.resolve_access(session, user_id=user.id, email=user.email, business_id=selected)
    if access is None:
        # No seat there (removed, or an id forced in): back to their own business, and this event is refused.
        business.business_id, business.role = "", "owner"
        return None
    business.role = access.role
    if capability and not access.can(capability):
        return None
    return dataclasses.replace(access, time_zone=user.time_zone)


async def refusal(state: rx.State):
    """Where a refused event sends the tab: sign-in when signed out, else the overview saying it was refused."""
    auth = await state.get_state(AuthState)
    return rx.redirect(REFUSED if auth.user_email else routes.SIGNIN)


async def upload_business(state: rx.State, user: CurrentUser, capability: str) -> uuid.UUID | None:
    """For upload handlers, whose person comes from the upload request's own cookie (AuthState.upload_user),
    not from the tab's socket: the selected business when that person's role there has `capability`."""
    business = await state.get_state(BusinessState)
    async with async_session() as session:
        access = await members.resolve_access(session, user_id=user.id, email=user.email,
                                              business_id=_selected(str(business.business_id), user.id))
    return access.business_id if access is not None and access.can(capability) else None
