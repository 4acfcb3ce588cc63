"""Admin money figures: per day and per account for a period, sign-ups, active accounts, answers, revenue,
bonus money spent, top-ups, LLM cost and margin; and the LLM price table they are computed with.

Answers are answers charged (charges.charged_answer_sql, the same rows the owner's history lists), counted
on the day they were charged. Their money is split by where it came from, first in first out over the
account's whole ledger: money from top-ups is revenue ("paid"); money from welcome credit, promo codes and
administrator credits is "bonus", spent by the platform on the owner's answers and never revenue. The
split needs no stored state: on the account's running total of credits each credit covers an interval, on
its running total of debits each debit (an answer, an admin debit) covers one; the balance never goes below
zero, so every debit's interval lies within the credits received before it, and the credits it overlaps
say where its money came from. The two running totals are independent, so only the credits (few) and the
period's debits are sorted; debits before the period count as one sum.

LLM cost = the token counts stored on each reply that called the model (answered_by 'llm', and 'fallback':
a "don't know" the model decided, free to the owner but not to the platform) x the price of the reply's
model (the assistant's model, else settings.openai_chat_model), per 1M tokens in USD, converted with
settings.llm_usd_rate. Every figure is computed in SQL; cost is summed exactly (numeric) and rounded to
micros once per row, and margin = revenue - that rounded cost, so a day's or an account's figures add up as
shown.

Every function takes the acting admin and refuses anyone else; the caller owns the session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import MICRO, ModelPrice, utcnow
from chatai.services import audit
from chatai.services.accounts import CurrentUser
from chatai.services.charges import charged_answer_sql
from chatai.settings import get_settings

# USD per 1M prompt / completion tokens (providers' list prices); an admin's row in model_prices wins.
DEFAULT_MODEL_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
}
MAX_PERIOD_DAYS = 366
LOWEST_MARGIN_LIMIT = 20
MAX_USD_PER_1M = Decimal("10000")


class MoneyError(ValueError):
    """`code` names what was wrong with the input (the page turns it into a sentence)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _check(admin: CurrentUser) -> None:
    if not admin.is_admin:
        raise PermissionError("admin only")


# --- the price table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPriceRow:
    model: str
    prompt_usd_micros: int  # per 1M tokens
    completion_usd_micros: int
    custom: bool  # an admin's row (else the built-in default)


def _usd_micros(value: Decimal) -> int:
    return int(value * MICRO)


async def list_model_prices(session: AsyncSession, *, admin: CurrentUser) -> list[ModelPriceRow]:
    _check(admin)
    return await _effective_prices(session)


async def _effective_prices(session: AsyncSession) -> list[ModelPriceRow]:
    rows = {m: ModelPriceRow(m, _usd_micros(p), _usd_micros(c), False) for m, (p, c) in DEFAULT_MODEL_PRICES.items()}
    for price in (await session.execute(sa.select(ModelPrice))).scalars():
        rows[price.model] = ModelPriceRow(price.model, price.prompt_usd_micros, price.completion_usd_micros, True)
    return sorted(rows.values(), key=lambda r: r.model)


def parse_usd(raw: str) -> int:
    """'0.15' (USD per 1M tokens) -> USD micros; refuses negatives, junk and absurd values."""
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise MoneyError("price") from None
    if not value.is_finite() or value < 0 or value > MAX_USD_PER_1M or value != value.quantize(Decimal("0.000001")):
        raise MoneyError("price")
    return _usd_micros(value)


async def set_model_price(session: AsyncSession, *, admin: CurrentUser, model: str, prompt_usd_micros: int,
                          completion_usd_micros: int, client: str = "") -> None:
    """Create or change one model's price; one audit row with the price before (the default when none was
    set) and after."""
    _check(admin)
    model = model.strip()
    if not model or len(model) > 120 or any(ch.isspace() for ch in model):
        raise MoneyError("model")
    if min(prompt_usd_micros, completion_usd_micros) < 0:
        raise MoneyError("price")
    before = next((r for r in await _effective_prices(session) if r.model == model), None)
    row = await session.get(ModelPrice, model, with_for_update=True)
    if row is None:
        row = ModelPrice(model=model, prompt_usd_micros=0, completion_usd_micros=0)
        session.add(row)
    row.prompt_usd_micros, row.completion_usd_micros = prompt_usd_micros, completion_usd_micros
    row.updated_at, row.updated_by = utcnow(), admin.id
    audit.record(session, actor_id=admin.id, action="admin.model_price", target_type="model_price",
                 target_id=model, client=client,
                 before=None if before is None else {"prompt_usd_micros": before.prompt_usd_micros,
                                                     "completion_usd_micros": before.completion_usd_micros,
                                                     "custom": before.custom},
                 after={"prompt_usd_micros": prompt_usd_micros, "completion_usd_micros": completion_usd_micros})
    await session.flush()


# --- figures ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    day: date
    signups: int
    active_accounts: int  # with an answer charged or a model call that day
    answers: int  # answers charged
    llm_calls: int  # replies that called the model (answers and "don't know")
    revenue_micros: int  # what answers charged took from top-up money
    bonus_micros: int  # what they took from welcome, promo and administrator credit
    topups_micros: int
    cost_micros: int

    @property
    def margin_micros(self) -> int:
        return self.revenue_micros - self.cost_micros


@dataclass(frozen=True)
class AccountFigures:
    account_id: uuid.UUID
    email: str
    answers: int
    llm_calls: int
    revenue_micros: int
    bonus_micros: int
    topups_micros: int
    cost_micros: int

    @property
    def margin_micros(self) -> int:
        return self.revenue_micros - self.cost_micros


@dataclass(frozen=True)
class Period:
    """Whole UTC days, first to last inclusive."""

    first: date
    last: date

    @classmethod
    def last_days(cls, days: int, *, today: date | None = None) -> Period:
        today = today or datetime.now(UTC).date()
        return cls(today - timedelta(days=max(1, days) - 1), today)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


def _check_period(period: Period) -> None:
    if period.last < period.first or (period.last - period.first).days >= MAX_PERIOD_DAYS:
        raise MoneyError("period")


# A reply that called the model: an answer it wrote, or a "don't know" it decided (a canned "don't know"
# without tokens never reached it).
_MODEL_REPLY = ("m.role = 'assistant' AND (m.answered_by = 'llm' OR (m.answered_by = 'fallback' AND "
                "m.prompt_tokens + m.completion_tokens > 0))")

# The period's replies that called the model, with their account, day and exact cost in USD micros x 1M
# tokens (numeric, no rounding yet); the answers charged in the period, each with the part of its money that
# came from top-ups; the period's top-ups. Prices come in as arrays (defaults merged with admin rows).
_FIGURES_CTE = f"""
prices AS (
    SELECT * FROM unnest(CAST(:models AS text[]), CAST(:prompt AS bigint[]), CAST(:completion AS bigint[]))
        AS p(model, prompt_micros, completion_micros)
),
llm AS (
    SELECT d.owner_id AS account_id, (m.created_at AT TIME ZONE 'UTC')::date AS day,
           m.prompt_tokens::numeric * coalesce(p.prompt_micros, 0)
           + m.completion_tokens::numeric * coalesce(p.completion_micros, 0) AS cost_raw
    FROM messages m
    JOIN dialogs d ON d.id = m.dialog_id
    JOIN assistants a ON a.id = d.assistant_id
    LEFT JOIN prices p ON p.model = coalesce(nullif(a.model, ''), :default_model)
    WHERE {_MODEL_REPLY} AND m.created_at >= :since AND m.created_at < :until
),
credits AS (
    -- Every credit up to the period's end, with where it starts on its account's running total of credits.
    SELECT account_id, kind, amount_micros,
           sum(amount_micros) OVER (PARTITION BY account_id ORDER BY created_at, id) - amount_micros AS lo
    FROM ledger_entries WHERE amount_micros > 0 AND created_at < :until
),
spent_before AS (
    SELECT account_id, -sum(amount_micros) AS spent
    FROM ledger_entries WHERE amount_micros < 0 AND created_at < :since GROUP BY account_id
),
debits AS (
    -- The period's debits (answers and admin debits), with where each starts on the running total of debits:
    -- what was spent before the period, then the period's debits in order. Only the period's rows are sorted.
    SELECT d.id, d.account_id, d.created_at, d.kind, d.amount_micros,
           coalesce(b.spent, 0) + sum(-d.amount_micros) OVER (PARTITION BY d.account_id ORDER BY d.created_at, d.id)
           + d.amount_micros AS lo
    FROM ledger_entries d LEFT JOIN spent_before b ON b.account_id = d.account_id
    WHERE d.amount_micros < 0 AND d.created_at >= :since AND d.created_at < :until
),
answers AS (
    -- Each answer charged, with the part of its debit interval [lo, lo + charged) that top-up credits cover.
    SELECT f.account_id, (f.created_at AT TIME ZONE 'UTC')::date AS day, -f.amount_micros AS charged,
           coalesce(sum(least(c.lo + c.amount_micros, f.lo - f.amount_micros) - greatest(c.lo, f.lo))
                    FILTER (WHERE c.kind = 'topup'), 0) AS paid
    FROM debits f
    LEFT JOIN credits c ON c.account_id = f.account_id AND c.lo < f.lo - f.amount_micros
         AND c.lo + c.amount_micros > f.lo
    WHERE {charged_answer_sql("f")}
    GROUP BY f.id, f.account_id, f.created_at, f.amount_micros
),
topups AS (
    SELECT account_id, (created_at AT TIME ZONE 'UTC')::date AS day, sum(amount_micros) AS topups
    FROM ledger_entries WHERE kind = 'topup' AND created_at >= :since AND created_at < :until
    GROUP BY 1, 2
)
"""

# raw cost (USD micros x tokens) -> platform currency micros: / 1M tokens x rate, rounded once.
_COST = "round(coalesce({raw}, 0) / 1000000 * CAST(:rate AS numeric))::bigint"

_DAILY_SQL = f"""
WITH {_FIGURES_CTE},
days AS (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day')::date AS day),
llm_days AS (SELECT day, count(*) AS calls, sum(cost_raw) AS cost_raw FROM llm GROUP BY day),
answer_days AS (SELECT day, count(*) AS answers, sum(charged) AS charged, sum(paid) AS paid
                FROM answers GROUP BY day),
active_days AS (
    SELECT day, count(DISTINCT account_id) AS accounts
    FROM (SELECT day, account_id FROM llm UNION SELECT day, account_id FROM answers) x GROUP BY day
),
topup_days AS (SELECT day, sum(topups) AS topups FROM topups GROUP BY day),
signup_days AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS signups
    FROM users WHERE created_at >= :since AND created_at < :until GROUP BY 1
)
SELECT days.day, coalesce(s.signups, 0), coalesce(v.accounts, 0), coalesce(a.answers, 0), coalesce(l.calls, 0),
       coalesce(a.paid, 0)::bigint, coalesce(a.charged - a.paid, 0)::bigint, coalesce(t.topups, 0)::bigint,
       {_COST.format(raw="l.cost_raw")}
FROM days
LEFT JOIN answer_days a ON a.day = days.day
LEFT JOIN llm_days l ON l.day = days.day
LEFT JOIN active_days v ON v.day = days.day
LEFT JOIN topup_days t ON t.day = days.day
LEFT JOIN signup_days s ON s.day = days.day
ORDER BY days.day
"""

_ACCOUNTS_SQL = f"""
WITH {_FIGURES_CTE},
llm_accounts AS (SELECT account_id, count(*) AS calls, sum(cost_raw) AS cost_raw FROM llm GROUP BY account_id),
answer_accounts AS (SELECT account_id, count(*) AS answers, sum(charged) AS charged, sum(paid) AS paid
                    FROM answers GROUP BY account_id),
topup_accounts AS (SELECT account_id, sum(topups) AS topups FROM topups GROUP BY account_id),
figures AS (
    SELECT ids.account_id, coalesce(a.answers, 0) AS answers, coalesce(l.calls, 0) AS calls,
           coalesce(a.paid, 0)::bigint AS paid, coalesce(a.charged - a.paid, 0)::bigint AS bonus,
           coalesce(t.topups, 0)::bigint AS topups, {_COST.format(raw="l.cost_raw")} AS cost
    FROM (SELECT account_id FROM llm UNION SELECT account_id FROM answers) ids
    LEFT JOIN answer_accounts a ON a.account_id = ids.account_id
    LEFT JOIN llm_accounts l ON l.account_id = ids.account_id
    LEFT JOIN topup_accounts t ON t.account_id = ids.account_id
)
SELECT f.account_id, u.email, f.answers, f.calls, f.paid, f.bonus, f.topups, f.cost
FROM figures f JOIN users u ON u.id = f.account_id
ORDER BY f.paid - f.cost, u.email
LIMIT :limit
"""

_UNPRICED_SQL = f"""
SELECT DISTINCT coalesce(nullif(a.model, ''), :default_model) AS model
FROM messages m JOIN dialogs d ON d.id = m.dialog_id JOIN assistants a ON a.id = d.assistant_id
WHERE {_MODEL_REPLY} AND m.created_at >= :since AND m.created_at < :until
  AND NOT (coalesce(nullif(a.model, ''), :default_model) = ANY(CAST(:models AS text[])))
ORDER BY 1
"""


async def _params(session: AsyncSession, period: Period) -> dict:
    prices = await _effective_prices(session)
    settings = get_settings()
    return {"models": [p.model for p in prices], "prompt": [p.prompt_usd_micros for p in prices],
            "completion": [p.completion_usd_micros for p in prices], "default_model": settings.openai_chat_model,
            "rate": str(Decimal(str(settings.llm_usd_rate))), "since": period.since, "until": period.until,
            "first": period.first, "last": period.last}


async def daily_figures(session: AsyncSession, *, admin: CurrentUser, period: Period) -> list[DayFigures]:
    """One row per day of the period (days without activity included, as zeros), oldest first."""
    _check(admin)
    _check_period(period)
    rows = (await session.execute(sa.text(_DAILY_SQL), await _params(session, period))).all()
    return [DayFigures(*row) for row in rows]


async def account_figures(session: AsyncSession, *, admin: CurrentUser, period: Period,
                          limit: int = LOWEST_MARGIN_LIMIT) -> list[AccountFigures]:
    """The accounts with answers charged or model calls in the period, lowest margin first."""
    _check(admin)
    _check_period(period)
    params = await _params(session, period) | {"limit": max(1, min(limit, 1000))}
    rows = (await session.execute(sa.text(_ACCOUNTS_SQL), params)).all()
    return [AccountFigures(*row) for row in rows]


async def unpriced_models(session: AsyncSession, *, admin: CurrentUser, period: Period) -> list[str]:
    """Models that answered in the period but have no price: their answers count as zero cost, so the page
    warns instead of showing a margin that is silently too high."""
    _check(admin)
    _check_period(period)
    return list((await session.execute(sa.text(_UNPRICED_SQL), await _params(session, period))).scalars())
