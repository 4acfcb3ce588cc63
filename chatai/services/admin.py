"""Admin use cases: the user list (search, sort, keyset pages), one account in full, roles, and every bot of
the platform (pause, resume, restart by an admin). Every function takes the acting admin and refuses anyone
else; each change writes exactly one audit row in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import Assistant, Bot, Dialog, Document, Message, User, UserActivity, utcnow
from chatai.db.money_models import BillingAccount, LedgerEntry
from chatai.services import analytics, audit, billing, bot_events
from chatai.services.accounts import ROLES, AccountError, CurrentUser
from chatai.services.bots import ADMIN_PAUSED, publish_command

SORTS = ("signup", "balance", "spend", "activity")
PAGE_SIZE = 50


def _check(admin: CurrentUser) -> None:
    if not admin.is_admin:
        raise PermissionError("admin only")


# --- users ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserListRow:
    id: uuid.UUID
    email: str
    role: str
    blocked: bool
    created_at: datetime
    balance_micros: int
    spent_micros: int
    last_active_at: datetime

    def cursor(self, sort: str) -> str:
        """The keyset position after this row in `sort` order, as an opaque string for the page state."""
        value = {"signup": self.created_at.isoformat(), "balance": str(self.balance_micros),
                 "spend": str(self.spent_micros), "activity": self.last_active_at.isoformat()}[sort]
        return f"{value}|{self.id}"


def _sort_key(sort: str) -> tuple[Any, Any]:
    """(sort column, the id column of the same table): the pair a composite index covers."""
    return {"signup": (User.created_at, User.id),
            "balance": (BillingAccount.balance_micros, BillingAccount.user_id),
            "spend": (UserActivity.spent_micros, UserActivity.user_id),
            "activity": (UserActivity.last_active_at, UserActivity.user_id)}[sort]


def _parse_cursor(sort: str, cursor: str) -> tuple[Any, uuid.UUID]:
    value, _, row_id = cursor.rpartition("|")
    parsed: Any = datetime.fromisoformat(value) if sort in ("signup", "activity") else int(value)
    return parsed, uuid.UUID(row_id)


async def list_users(session: AsyncSession, *, admin: CurrentUser, query: str = "", sort: str = "signup",
                     descending: bool = True, after: str = "", limit: int = PAGE_SIZE) -> list[UserListRow]:
    """One page of users; `after` is the previous page's last `cursor(sort)` (keyset: every page costs the
    same, page 2000 as page 1). Search matches any part of the email (trigram index)."""
    _check(admin)
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    column, row_id = _sort_key(sort)
    # Every user has a user_activity row (a trigger writes it); a user without a billing account (none made
    # through accounts.create_user) still lists, with balance 0, except when sorting by balance.
    balance = sa.func.coalesce(BillingAccount.balance_micros, 0)
    stmt = (sa.select(User.id, User.email, User.role, User.blocked, User.created_at, balance.label("balance_micros"),
                      UserActivity.spent_micros, UserActivity.last_active_at)
            .join(BillingAccount, BillingAccount.user_id == User.id, isouter=sort != "balance")
            .join(UserActivity, UserActivity.user_id == User.id))
    query = query.strip().lower()[:100]
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matches = User.email.ilike(f"%{escaped}%", escape="\\")
        few = await _count_upto(session, matches) <= SELECTIVE_SEARCH
        stmt = stmt.where(User.id.in_(sa.select(_matching_ids(matches).c.id)) if few else matches)
    if after:
        position = sa.tuple_(*map(sa.literal, _parse_cursor(sort, after)))
        stmt = stmt.where(sa.tuple_(column, row_id) < position if descending else sa.tuple_(column, row_id) > position)
    order = (column.desc(), row_id.desc()) if descending else (column.asc(), row_id.asc())
    rows = (await session.execute(stmt.order_by(*order).limit(limit))).all()
    return [UserListRow(id=r.id, email=r.email, role=r.role, blocked=r.blocked, created_at=r.created_at,
                        balance_micros=int(r.balance_micros), spent_micros=int(r.spent_micros),
                        last_active_at=r.last_active_at) for r in rows]


# A search matching at most this many users is resolved through the trigram index first and then sorted (the
# planner, misjudging how rare a match is, would otherwise walk the whole sort index filtering row by row);
# a broader one is filtered while walking the sort index, where matches are dense enough to fill a page fast.
SELECTIVE_SEARCH = 1000


async def _count_upto(session: AsyncSession, matches: Any) -> int:
    limited = sa.select(User.id).where(matches).limit(SELECTIVE_SEARCH + 1).subquery()
    return int((await session.execute(sa.select(sa.func.count()).select_from(limited))).scalar_one())


def _matching_ids(matches: Any) -> Any:
    return sa.select(User.id).where(matches).cte("email_matches").prefix_with("MATERIALIZED")


@dataclass(frozen=True)
class AccountBot:
    id: uuid.UUID
    username: str
    status: str
    desired_state: str


@dataclass(frozen=True)
class AccountDetail:
    id: uuid.UUID
    email: str
    role: str
    blocked: bool
    created_at: datetime
    last_active_at: datetime | None
    assistants: list[str]
    bots: list[AccountBot]
    documents: int
    balance: billing.BalanceView
    ledger: list[LedgerEntry]
    spend_per_day: list[tuple[str, int]]
    dialogs_this_month: int
    handoffs_this_month: int


def month_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def get_account(session: AsyncSession, *, admin: CurrentUser, user_id: uuid.UUID) -> AccountDetail:
    _check(admin)
    user = await session.get(User, user_id)
    if user is None:
        raise AccountError("not_found")
    activity = await session.get(UserActivity, user_id)
    assistants = list((await session.execute(sa.select(Assistant.name).where(Assistant.owner_id == user_id)
                                             .order_by(Assistant.created_at))).scalars())
    bot_rows = (await session.execute(sa.select(Bot.id, Bot.username, Bot.status, Bot.desired_state)
                                      .where(Bot.owner_id == user_id).order_by(Bot.created_at))).all()
    documents = (await session.execute(
        sa.select(sa.func.count()).select_from(Document).join(Assistant, Assistant.id == Document.assistant_id)
        .where(Assistant.owner_id == user_id))).scalar_one()
    now = utcnow()
    month = analytics.Period(since=month_start(now), until=now + timedelta(seconds=1))
    summary = await analytics.summary(session, owner_id=user_id, period=month)
    dialogs_started = (await session.execute(
        sa.select(sa.func.count()).select_from(Dialog)
        .where(Dialog.owner_id == user_id, Dialog.created_at >= month.since,
               Dialog.channel != "playground"))).scalar_one()
    return AccountDetail(
        id=user.id, email=user.email, role=user.role, blocked=user.blocked, created_at=user.created_at,
        last_active_at=activity.last_active_at if activity else None, assistants=assistants,
        bots=[AccountBot(id=b.id, username=b.username, status=b.status, desired_state=b.desired_state)
              for b in bot_rows],
        documents=int(documents), balance=await billing.get_balance(session, user_id=user_id),
        ledger=await billing.list_ledger(session, user_id=user_id, limit=50),
        spend_per_day=await billing.spend_per_day(session, user_id=user_id, days=30, time_zone=admin.time_zone),
        dialogs_this_month=int(dialogs_started), handoffs_this_month=summary.handoffs)


async def set_role(session: AsyncSession, *, admin: CurrentUser, user_id: uuid.UUID, role: str,
                   client: str = "") -> None:
    """Make someone an admin or an owner. An admin cannot take their own admin role away, and the platform
    always keeps one admin: the admin rows are locked first, so two admins demoting each other at the same
    moment cannot both succeed. Commits."""
    _check(admin)
    if role not in ROLES:
        raise AccountError("admin_role_invalid")
    if user_id == admin.id and role != "admin":
        raise AccountError("admin_role_self")
    admins = list((await session.execute(sa.select(User.id).where(User.role == "admin").order_by(User.id)
                                         .with_for_update())).scalars())
    user = (await session.execute(sa.select(User).where(User.id == user_id).with_for_update())).scalar_one_or_none()
    if user is None:
        raise AccountError("not_found")
    if user.role == role:
        await session.rollback()
        return
    if user.role == "admin" and len(admins) <= 1:
        raise AccountError("admin_last_admin")
    before = user.role
    user.role = role
    session.add(user)
    audit.record(session, actor_id=admin.id, action="admin.role", target_type="user", target_id=user_id,
                 before={"role": before}, after={"role": role}, client=client)
    await session.commit()


async def adjust_balance(session: AsyncSession, *, admin: CurrentUser, user_id: uuid.UUID, amount_micros: int,
                         reason: str, client: str = "") -> None:
    """Credit (+) or debit (-) with a required reason: billing.adjust writes the ledger row and the audit row.
    Commits; BillingError (reason_required, invalid_amount, not_found, or a debit past the balance)."""
    _check(admin)
    await billing.adjust(session, account_id=user_id, amount_micros=amount_micros, reason=reason,
                         actor_id=admin.id, client=client)
    await session.commit()


# --- bots -------------------------------------------------------------------------------------------------

BOT_STATUSES = ("starting", "running", "paused", "error")


@dataclass(frozen=True)
class AdminBotRow:
    id: uuid.UUID
    owner_email: str
    username: str
    mode: str
    status: str
    desired_state: str
    last_error: str
    runner_id: str
    lease_until: datetime | None
    messages_today: int


ADMIN_PAGE_SIZE = 50


@dataclass(frozen=True)
class AdminBotPage:
    rows: list[AdminBotRow]
    next_after: str  # the cursor of the next page; "" when this page is the last


def _admin_cursor(in_error: bool, created_at: datetime, bot_id: uuid.UUID) -> str:
    return f"{0 if in_error else 1}_{created_at.isoformat()}_{bot_id}"


def _parse_admin_cursor(after: str) -> tuple[bool, datetime, uuid.UUID] | None:
    """(not in error, created_at, id) of the cursor; None for "" or anything malformed (the first page)."""
    flag, _, rest = after.partition("_")
    when, _, bot_id = rest.rpartition("_")
    try:
        parsed = flag == "1", datetime.fromisoformat(when), uuid.UUID(bot_id)
    except ValueError:
        return None
    return parsed if flag in ("0", "1") and parsed[1].tzinfo is not None else None


async def bots_page(session: AsyncSession, *, admin: CurrentUser, status: str = "", after: str = "",
                    limit: int = ADMIN_PAGE_SIZE) -> AdminBotPage:
    """A page of every bot (optionally of one status), bots in error first, then in the order they were
    connected, with today's message count (UTC day). Keyset paging on (not in error, created_at, id): the
    last page of 10,000 bots costs what the first does, and the count runs for the page's bots only."""
    _check(admin)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    messages_today = (sa.select(sa.func.count()).select_from(Message).join(Dialog, Dialog.id == Message.dialog_id)
                      .where(Dialog.bot_id == Bot.id, Message.created_at >= today).scalar_subquery())
    not_in_error = Bot.status != "error"  # false sorts first: bots in error lead
    stmt = (sa.select(Bot, User.email, messages_today.label("today")).join(User, User.id == Bot.owner_id)
            .order_by(not_in_error, Bot.created_at, Bot.id).limit(limit + 1))
    if status:
        stmt = stmt.where(Bot.status == status)
    cursor = _parse_admin_cursor(after)
    if cursor is not None:
        stmt = stmt.where(sa.tuple_(not_in_error, Bot.created_at, Bot.id) > sa.tuple_(*cursor))
    rows = (await session.execute(stmt)).all()
    page = [AdminBotRow(id=b.id, owner_email=email, username=b.username, mode=b.mode, status=b.status,
                        desired_state=b.desired_state, last_error=b.last_error, runner_id=b.runner_id,
                        lease_until=b.lease_until, messages_today=int(n or 0)) for b, email, n in rows[:limit]]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return AdminBotPage(rows=page, next_after=_admin_cursor(last.status == "error", last.created_at, last.id)
                        if last is not None else "")


async def list_bots(session: AsyncSession, *, admin: CurrentUser, status: str = "",
                    limit: int = ADMIN_PAGE_SIZE) -> list[AdminBotRow]:
    """The first page of bots_page."""
    return (await bots_page(session, admin=admin, status=status, limit=limit)).rows


_BOT_ACTIONS = {
    # action: (desired_state, status, runner command, bot event kind, the owner's event log sentence)
    "pause": (ADMIN_PAUSED, "paused", "stop", "paused", "Paused by a platform administrator."),
    "resume": ("running", "starting", "start", "resumed", "Resumed by a platform administrator."),
    "restart": ("running", "starting", "reload", "resumed", "Restarted by a platform administrator."),
}


async def bot_action(session: AsyncSession, *, admin: CurrentUser, bot_id: uuid.UUID, action: str,
                     client: str = "") -> None:
    """Pause, resume or restart any bot. A bot whose owner is blocked stays stopped (resume/restart refused
    with `admin_bot_owner_blocked`: unblocking the owner brings it back). Commits, then tells the runners."""
    _check(admin)
    if action not in _BOT_ACTIONS:
        raise ValueError(f"unknown bot action {action!r}")
    bot = (await session.execute(sa.select(Bot).where(Bot.id == bot_id).with_for_update())).scalar_one_or_none()
    if bot is None:
        raise AccountError("not_found")
    if action != "pause":
        owner_blocked = (await session.execute(sa.select(User.blocked).where(User.id == bot.owner_id))).scalar()
        if owner_blocked:
            raise AccountError("admin_bot_owner_blocked")
    desired, status, command, event_kind, sentence = _BOT_ACTIONS[action]
    before = {"desired_state": bot.desired_state, "status": bot.status}
    bot.desired_state, bot.status, bot.updated_at = desired, status, utcnow()
    if action != "pause":
        bot.last_error = ""
    session.add(bot)
    audit.record(session, actor_id=admin.id, action=f"admin.bot_{action}", target_type="bot", target_id=bot.id,
                 before=before, after={"desired_state": desired, "status": status},
                 details={"username": bot.username}, client=client)
    await bot_events.record(session, bot_id=bot.id, owner_id=bot.owner_id, kind=event_kind, message=sentence)
    await session.commit()
    await publish_command(command, bot_id)


@dataclass(frozen=True)
class RunnerLeases:
    runner_id: str
    bots: int
    oldest_lease_left_s: int  # seconds until the soonest lease of this runner runs out (renewed while alive)


async def runner_leases(session: AsyncSession, *, admin: CurrentUser) -> list[RunnerLeases]:
    """Bots per runner from the lease columns: a runner whose leases run out is dead or stuck."""
    _check(admin)
    now = utcnow()
    rows = (await session.execute(
        sa.select(Bot.runner_id, sa.func.count(), sa.func.min(Bot.lease_until))
        .where(Bot.runner_id != "", Bot.lease_until.is_not(None)).group_by(Bot.runner_id)
        .order_by(Bot.runner_id))).all()
    return [RunnerLeases(runner_id=runner, bots=int(n), oldest_lease_left_s=int((soonest - now).total_seconds()))
            for runner, n, soonest in rows]
