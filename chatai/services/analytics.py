"""What the assistant solves, for a period and an assistant (or all of the owner's): figures computed
in SQL, never by loading messages into Python.

Definitions (so the numbers can be checked):
- messages: every message of the period (user, assistant, operator; system notices excluded).
- answered by: assistant replies by how they answered (qa | llm | extractive = quotes | fallback =
  "don't know") and operator replies (a person); shares are of all replies.
- handoffs: notices of a dialog starting to wait for a person (asked for, low confidence, no balance).
- dialogs / end users: dialogs with activity in the period, and the distinct Telegram users among them.
- customers only: the owner's own playground conversations (channel "playground") are left out of every
  figure; `by_channel` splits the same figures by the channel the customers came from.
- first response: median time from receiving a customer's message to the assistant's answer being sent
  (measured by the bot runner for every reply, messages.latency_ms).
- unanswered questions: the customer message a "don't know" answered (answered_by 'fallback'), or the one a
  handoff followed before anything answered it (for a request for a person, the message before that
  request; a question answered and then followed by a request for a person is not listed), grouped by their
  stemmed words (English and Russian), so word order, case, punctuation and word forms do not split a
  group. A question is cleared once a Q&A pair of its assistant covers it: the pair's question holds every
  stemmed word of it (as the pair added with "add as Q&A pair" from the list does).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.formatting import is_time_zone, local_time

HANDOFF_CODES = ("handoff_requested", "handoff_low_confidence", "balance_zero")
ANSWER_KINDS = ("qa", "llm", "extractive", "fallback")
UNANSWERED_LIMIT = 20
MAX_MISSES = 500  # the latest misses are grouped: enough to rank what to add next, bounded in time


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime


@dataclass(frozen=True)
class Summary:
    messages: int
    dialogs: int
    end_users: int
    replies: int
    by_qa: int
    by_llm: int
    by_extractive: int
    by_fallback: int
    by_person: int
    handoffs: int
    median_first_response_s: float | None

    def share(self, count: int) -> float:
        return count / self.replies if self.replies else 0.0


@dataclass(frozen=True)
class ChannelFigures:
    channel: str  # telegram | web | business (conversation/channel.CHANNELS, without the playground)
    dialogs: int
    end_users: int
    messages: int
    by_ai: int  # assistant replies that answered (qa, llm, extractive)
    by_person: int
    handoffs: int


@dataclass(frozen=True)
class Day:
    day: date
    messages: int
    handoffs: int


@dataclass(frozen=True)
class UnansweredGroup:
    question: str  # the most recent wording
    count: int
    last_asked: datetime
    assistant_id: uuid.UUID


def _dialogs(owner_id: uuid.UUID, assistant_id: uuid.UUID | None, period: Period) -> tuple[str, dict[str, Any]]:
    """The owner's dialogs (of one assistant) active since the period start, as a subquery. Messages are
    then read through ix_messages_created_cover / ix_messages_system (index-only, migration 0005)."""
    params: dict[str, Any] = {"owner": owner_id, "since": period.since, "until": period.until,
                              "handoffs": list(HANDOFF_CODES)}
    assistant = ""
    if assistant_id is not None:
        assistant = "AND d.assistant_id = :assistant"
        params["assistant"] = assistant_id
    # The customer: a Telegram user, a website visitor (however many conversations they started), else the dialog.
    customer = ("coalesce(d.telegram_user_id::text, (SELECT wc.visitor_id::text FROM widget_conversations wc"
                " WHERE wc.dialog_id = d.id), d.id::text) AS customer")
    return (f"(SELECT d.id, d.assistant_id, d.telegram_user_id, d.channel, {customer} FROM dialogs d"
            f" WHERE d.owner_id = :owner {assistant} AND d.last_message_at >= :since AND d.channel <> 'playground')",
            params)


def _messages(dialogs: str) -> str:
    return f"messages m JOIN {dialogs} d ON d.id = m.dialog_id WHERE m.created_at >= :since AND m.created_at < :until"


def _notices(dialogs: str) -> str:
    return (f"messages m JOIN {dialogs} d ON d.id = m.dialog_id WHERE m.role = 'system' AND m.created_at >= :since"
            f" AND m.created_at < :until AND m.text = ANY(CAST(:handoffs AS text[]))")


async def summary(session: AsyncSession, *, owner_id: uuid.UUID, period: Period,
                  assistant_id: uuid.UUID | None = None) -> Summary:
    dialogs, params = _dialogs(owner_id, assistant_id, period)
    row = (await session.execute(sa.text(f"""
        SELECT a.*,
               (SELECT count(*) FROM {dialogs} dd) AS dialogs,
               (SELECT count(DISTINCT dd.customer) FROM {dialogs} dd)
                   AS end_users,
               (SELECT count(*) FROM {_notices(dialogs)}) AS handoffs
        FROM (SELECT count(*) FILTER (WHERE m.role <> 'system') AS messages,
                     count(*) FILTER (WHERE m.role = 'assistant' AND m.answered_by = 'qa') AS by_qa,
                     count(*) FILTER (WHERE m.role = 'assistant' AND m.answered_by = 'llm') AS by_llm,
                     count(*) FILTER (WHERE m.role = 'assistant' AND m.answered_by = 'extractive') AS by_extractive,
                     count(*) FILTER (WHERE m.role = 'assistant' AND m.answered_by = 'fallback') AS by_fallback,
                     count(*) FILTER (WHERE m.role = 'operator') AS by_person,
                     percentile_cont(0.5) WITHIN GROUP (ORDER BY m.latency_ms)
                         FILTER (WHERE m.role = 'assistant' AND m.latency_ms IS NOT NULL) AS median_latency_ms
              FROM {_messages(dialogs)}) a
    """), params)).one()
    by = {k: int(getattr(row, f"by_{k}")) for k in (*ANSWER_KINDS, "person")}
    median = row.median_latency_ms
    return Summary(messages=int(row.messages), dialogs=int(row.dialogs), end_users=int(row.end_users),
                   replies=sum(by.values()), by_qa=by["qa"], by_llm=by["llm"], by_extractive=by["extractive"],
                   by_fallback=by["fallback"], by_person=by["person"], handoffs=int(row.handoffs),
                   median_first_response_s=float(median) / 1000 if median is not None else None)


async def by_channel(session: AsyncSession, *, owner_id: uuid.UUID, period: Period,
                     assistant_id: uuid.UUID | None = None) -> list[ChannelFigures]:
    """The summary's customer figures per channel, busiest first (channels without activity are left out)."""
    dialogs, params = _dialogs(owner_id, assistant_id, period)
    rows = (await session.execute(sa.text(f"""
        SELECT dd.channel, count(*) AS dialogs,
               count(DISTINCT dd.customer) AS end_users,
               coalesce(sum(m.messages), 0) AS messages, coalesce(sum(m.by_ai), 0) AS by_ai,
               coalesce(sum(m.by_person), 0) AS by_person, coalesce(sum(m.handoffs), 0) AS handoffs
        FROM {dialogs} dd
        LEFT JOIN LATERAL (
            SELECT count(*) FILTER (WHERE m.role <> 'system') AS messages,
                   count(*) FILTER (WHERE m.role = 'assistant' AND m.answered_by IN ('qa', 'llm', 'extractive'))
                       AS by_ai,
                   count(*) FILTER (WHERE m.role = 'operator') AS by_person,
                   count(*) FILTER (WHERE m.role = 'system' AND m.text = ANY(CAST(:handoffs AS text[]))) AS handoffs
            FROM messages m WHERE m.dialog_id = dd.id AND m.created_at >= :since AND m.created_at < :until) m ON true
        GROUP BY dd.channel
        ORDER BY messages DESC, dd.channel
    """), params)).all()
    return [ChannelFigures(channel=r.channel, dialogs=int(r.dialogs), end_users=int(r.end_users),
                           messages=int(r.messages), by_ai=int(r.by_ai), by_person=int(r.by_person),
                           handoffs=int(r.handoffs)) for r in rows]


async def per_day(session: AsyncSession, *, owner_id: uuid.UUID, period: Period,
                  assistant_id: uuid.UUID | None = None, time_zone: str = "UTC") -> list[Day]:
    """Messages and handoffs per day of the business's clock (a Moscow evening is not tomorrow in UTC), every
    day of the period (zeros included)."""
    dialogs, params = _dialogs(owner_id, assistant_id, period)
    params["tz"] = time_zone if is_time_zone(time_zone) else "UTC"
    day = "(m.created_at AT TIME ZONE :tz)::date"
    rows = (await session.execute(sa.text(f"""
        SELECT coalesce(a.day, h.day) AS day, coalesce(a.messages, 0) AS messages, coalesce(h.handoffs, 0) AS handoffs
        FROM (SELECT {day} AS day, count(*) AS messages FROM {_messages(dialogs)} AND m.role <> 'system' GROUP BY 1) a
        FULL JOIN (SELECT {day} AS day, count(*) AS handoffs FROM {_notices(dialogs)} GROUP BY 1) h ON h.day = a.day
    """), params)).all()
    counts = {r.day: (int(r.messages), int(r.handoffs)) for r in rows}
    first = local_time(period.since, params["tz"]).date()
    last = local_time(period.until - timedelta(microseconds=1), params["tz"]).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [Day(day, *counts.get(day, (0, 0))) for day in days]


async def unanswered(session: AsyncSession, *, owner_id: uuid.UUID, period: Period,
                     assistant_id: uuid.UUID | None = None, limit: int = UNANSWERED_LIMIT) -> list[UnansweredGroup]:
    """What the knowledge base is missing (see the module docstring): questions answered "don't know", and
    questions a handoff followed before anything answered them; minus those a Q&A pair now covers."""
    dialogs, params = _dialogs(owner_id, assistant_id, period)
    params.update(limit=limit, max_misses=MAX_MISSES)
    rows = (await session.execute(sa.text(f"""
        WITH misses AS (
            SELECT m.dialog_id, m.created_at, 'dont_know' AS kind
            FROM {_messages(dialogs)} AND m.role = 'assistant' AND m.answered_by = 'fallback'
            UNION ALL
            SELECT m.dialog_id, m.created_at, m.text AS kind
            FROM {_notices(dialogs)} AND m.text IN ('handoff_requested', 'handoff_low_confidence')
            ORDER BY created_at DESC LIMIT :max_misses
        ), questions AS (
            SELECT DISTINCT q.id, q.text, q.created_at, d.assistant_id
            FROM misses x
            JOIN dialogs d ON d.id = x.dialog_id
            JOIN LATERAL (SELECT u.created_at FROM messages u
                          WHERE u.dialog_id = x.dialog_id AND u.role = 'user' AND u.created_at <= x.created_at
                          ORDER BY u.created_at DESC LIMIT 1) last_user ON true
            -- A request for a person is not a question: the customer's message before it is.
            JOIN LATERAL (SELECT u.id, u.text, u.created_at FROM messages u
                          WHERE u.dialog_id = x.dialog_id AND u.role = 'user'
                            AND (u.created_at < last_user.created_at
                                 OR (x.kind <> 'handoff_requested' AND u.created_at = last_user.created_at))
                          ORDER BY u.created_at DESC LIMIT 1) q ON true
            WHERE q.text NOT LIKE '/%' AND q.text NOT LIKE '[%'
              -- After a handoff only when it came right after the question: an answer in between means the
              -- question was answered and the customer wanted a person for something else.
              AND (x.kind = 'dont_know' OR NOT EXISTS (
                  SELECT 1 FROM messages r WHERE r.dialog_id = x.dialog_id AND r.role IN ('assistant', 'operator')
                    AND r.created_at > q.created_at AND r.created_at < x.created_at))
        ), keyed AS (
            SELECT text, created_at, assistant_id,
                   tsvector_to_array(to_tsvector('english', text) || to_tsvector('russian', text)) AS words
            FROM questions
        ), qa AS (
            SELECT p.assistant_id,
                   tsvector_to_array(to_tsvector('english', p.question) || to_tsvector('russian', p.question)) AS words
            FROM qa_pairs p WHERE p.assistant_id IN (SELECT DISTINCT assistant_id FROM questions)
        ), open AS (
            -- Covered (cleared): a Q&A pair of the assistant whose question holds every word of this one
            -- (the pair added from this list item keeps its wording; a reworded one still names the same things).
            SELECT k.*, coalesce(nullif(array_to_string(k.words, ' '), ''), lower(trim(k.text))) AS key FROM keyed k
            WHERE NOT EXISTS (SELECT 1 FROM qa WHERE qa.assistant_id = k.assistant_id
                                AND cardinality(k.words) > 0 AND k.words <@ qa.words)
        )
        SELECT (array_agg(text ORDER BY created_at DESC))[1] AS question, count(*) AS n,
               max(created_at) AS last_asked, (array_agg(assistant_id ORDER BY created_at DESC))[1] AS assistant_id
        FROM open GROUP BY key, assistant_id
        ORDER BY n DESC, last_asked DESC
        LIMIT :limit
    """), params)).all()
    return [UnansweredGroup(question=r.question, count=int(r.n), last_asked=r.last_asked,
                            assistant_id=r.assistant_id) for r in rows]
