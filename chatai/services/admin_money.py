"""Admin money figures: per day and per account for a period, sign-ups, active accounts, answers, revenue
(ledger commits), top-ups, LLM cost and margin; and the LLM price table they are computed with.

LLM cost = the token counts stored on each answer (messages.prompt_tokens / completion_tokens, answered_by
'llm') x the price of the answer's model (the assistant's model, else settings.openai_chat_model), per 1M
tokens in USD, converted with settings.llm_usd_rate. Local answers (qa, extractive, fallback) cost zero.
Every figure is computed in SQL; cost is summed exactly (numeric) and rounded to micros once per row, and
margin = revenue - that rounded cost, so a day's or an account's figures add up as shown.

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
    active_accounts: int
    answers: int
    llm_answers: int
    revenue_micros: int
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
    llm_answers: int
    revenue_micros: int
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


# Each answer of the period with its account, day and exact cost in USD micros x 1M tokens (numeric, no rounding
# yet). Prices come in as arrays (the effective table: defaults merged with admin rows).
_ANSWERS_CTE = """
prices AS (
    SELECT * FROM unnest(CAST(:models AS text[]), CAST(:prompt AS bigint[]), CAST(:completion AS bigint[]))
        AS p(model, prompt_micros, completion_micros)
),
answers AS (
    SELECT d.owner_id AS account_id, (m.created_at AT TIME ZONE 'UTC')::date AS day,
           (m.answered_by = 'llm') AS is_llm,
           CASE WHEN m.answered_by = 'llm'
                THEN m.prompt_tokens::numeric * coalesce(p.prompt_micros, 0)
                     + m.completion_tokens::numeric * coalesce(p.completion_micros, 0)
                ELSE 0 END AS cost_raw
    FROM messages m
    JOIN dialogs d ON d.id = m.dialog_id
    JOIN assistants a ON a.id = d.assistant_id
    LEFT JOIN prices p ON p.model = coalesce(nullif(a.model, ''), :default_model)
    WHERE m.role = 'assistant' AND m.created_at >= :since AND m.created_at < :until
),
money AS (
    SELECT account_id, (created_at AT TIME ZONE 'UTC')::date AS day,
           coalesce(-sum(amount_micros) FILTER (WHERE kind = 'commit'), 0) AS revenue,
           coalesce(sum(amount_micros) FILTER (WHERE kind = 'topup'), 0) AS topups
    FROM ledger_entries
    WHERE kind IN ('commit', 'topup') AND created_at >= :since AND created_at < :until
    GROUP BY 1, 2
)
"""

# raw cost (USD micros x tokens) -> platform currency micros: / 1M tokens x rate, rounded once.
_COST = "round(coalesce({raw}, 0) / 1000000 * CAST(:rate AS numeric))::bigint"

_DAILY_SQL = f"""
WITH {_ANSWERS_CTE},
days AS (SELECT generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day')::date AS day),
answer_days AS (
    SELECT day, count(*) AS answers, count(*) FILTER (WHERE is_llm) AS llm_answers,
           count(DISTINCT account_id) AS active_accounts, sum(cost_raw) AS cost_raw
    FROM answers GROUP BY day
),
money_days AS (SELECT day, sum(revenue) AS revenue, sum(topups) AS topups FROM money GROUP BY day),
signup_days AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS signups
    FROM users WHERE created_at >= :since AND created_at < :until GROUP BY 1
)
SELECT days.day, coalesce(s.signups, 0), coalesce(a.active_accounts, 0), coalesce(a.answers, 0),
       coalesce(a.llm_answers, 0), coalesce(m.revenue, 0)::bigint, coalesce(m.topups, 0)::bigint,
       {_COST.format(raw="a.cost_raw")}
FROM days
LEFT JOIN answer_days a ON a.day = days.day
LEFT JOIN money_days m ON m.day = days.day
LEFT JOIN signup_days s ON s.day = days.day
ORDER BY days.day
"""

_ACCOUNTS_SQL = f"""
WITH {_ANSWERS_CTE},
answer_accounts AS (
    SELECT account_id, count(*) AS answers, count(*) FILTER (WHERE is_llm) AS llm_answers, sum(cost_raw) AS cost_raw
    FROM answers GROUP BY account_id
),
money_accounts AS (
    SELECT account_id, sum(revenue) AS revenue, sum(topups) AS topups FROM money GROUP BY account_id
),
figures AS (
    SELECT coalesce(a.account_id, m.account_id) AS account_id, coalesce(a.answers, 0) AS answers,
           coalesce(a.llm_answers, 0) AS llm_answers, coalesce(m.revenue, 0)::bigint AS revenue,
           coalesce(m.topups, 0)::bigint AS topups, {_COST.format(raw="a.cost_raw")} AS cost
    FROM answer_accounts a FULL JOIN money_accounts m ON m.account_id = a.account_id
)
SELECT f.account_id, u.email, f.answers, f.llm_answers, f.revenue, f.topups, f.cost
FROM figures f JOIN users u ON u.id = f.account_id
WHERE f.answers > 0 OR f.revenue <> 0
ORDER BY f.revenue - f.cost, u.email
LIMIT :limit
"""

_UNPRICED_SQL = """
SELECT DISTINCT coalesce(nullif(a.model, ''), :default_model) AS model
FROM messages m JOIN dialogs d ON d.id = m.dialog_id JOIN assistants a ON a.id = d.assistant_id
WHERE m.role = 'assistant' AND m.answered_by = 'llm' AND m.created_at >= :since AND m.created_at < :until
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
    """The accounts with answers or revenue in the period, lowest margin first."""
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
