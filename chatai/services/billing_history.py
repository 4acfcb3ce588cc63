"""The owner's billing history as people read it: one row per money movement, in words.

The ledger (services/billing.py) is append-only and keeps every movement an accountant needs, including the
holds of answers in progress (a 'reserve' row of 0.00 before each answer, a 'release' when it was not
delivered). An owner wants one row per answer with the conversation and the question it paid for, so this
module only reads: it leaves out the hold-only rows, joins each answer's charge to its dialog and question,
and names every row by a code the page translates (never the stored English reason).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.services.charges import charged_answer_sql

# Ledger kinds an owner sees; 'reserve' and 'release' only move money set aside for an answer in progress,
# and a commit is shown when it is an answer charged (charges.charged_answer_sql: the admin counts the same).
OWNER_KINDS = ("commit", "topup", "welcome", "promo", "refund", "adjustment")
QUESTION_WORDS = 8
QUESTION_CHARS = 80

# Each answer's commit row carries its charge key in `reference`. The question is the customer's message the
# answer replied to: the one of the same Telegram update, else the customer's last message before the charge.
_HISTORY = sa.text(f"""
    SELECT l.created_at, l.kind, l.amount_micros, l.balance_after_micros, l.reason, l.reference,
           c.dialog_id, q.text AS question
    FROM ledger_entries l
    LEFT JOIN charges c ON l.kind = 'commit' AND c.idempotency_key = l.reference
    LEFT JOIN LATERAL (
        SELECT m.text FROM messages m
        WHERE m.dialog_id = c.dialog_id AND m.role = 'user' AND m.created_at <= l.created_at
        ORDER BY (m.telegram_update_id IS NOT DISTINCT FROM c.update_id) DESC, m.created_at DESC
        LIMIT 1) q ON c.dialog_id IS NOT NULL
    WHERE l.account_id = :account AND l.kind = ANY(CAST(:kinds AS text[]))
      AND (l.kind <> 'commit' OR {charged_answer_sql("l")})
      AND (CAST(:since AS timestamptz) IS NULL OR l.created_at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR l.created_at < :until)
    ORDER BY l.created_at DESC, l.id
    LIMIT :limit
""")


@dataclass(frozen=True)
class HistoryRow:
    created_at: datetime
    kind: str  # one of OWNER_KINDS
    amount_micros: int
    balance_after_micros: int
    detail: str  # what the row is, as a code the page translates: answer | welcome | payment | promo | note
    # The words that go with the detail: the question's first words, the payment provider, the promo code,
    # an administrator's reason. Stored or typed text: shown as text, never as HTML.
    words: str
    dialog_id: uuid.UUID | None  # the conversation an answer was given in


def first_words(text: str, *, words: int = QUESTION_WORDS, chars: int = QUESTION_CHARS) -> str:
    """'How much is the Ethiopia blend in 250 g packs, and do you deliver' -> 'How much is the Ethiopia blend
    in 250 …' (a whole word at most `words` words and `chars` characters, an ellipsis when cut)."""
    parts = text.split()
    kept = parts[:words]
    while len(kept) > 1 and len(" ".join(kept)) > chars:
        kept.pop()
    out = " ".join(kept)[:chars]
    return out + " …" if out != " ".join(parts) else out


def _describe(kind: str, reason: str, reference: str, question: str | None) -> tuple[str, str]:
    if kind == "commit":
        return "answer", first_words(question or "")
    if kind == "welcome":
        return "welcome", ""
    if kind == "topup":  # stored reason: '<provider> payment'
        provider = reason.removesuffix(" payment").strip() if reason.endswith(" payment") else ""
        return "payment", provider
    if kind == "promo":  # the code is the reference
        return "promo", reference
    return "note", reason or reference


async def history(session: AsyncSession, *, user_id: uuid.UUID, kind: str = "", since: datetime | None = None,
                  until: datetime | None = None, limit: int = 500) -> list[HistoryRow]:
    """The owner's rows, newest first; `kind` one of OWNER_KINDS (anything else: all of them)."""
    kinds = [kind] if kind in OWNER_KINDS else list(OWNER_KINDS)
    rows = (await session.execute(_HISTORY, {"account": user_id, "kinds": kinds, "since": since, "until": until,
                                             "limit": max(1, min(limit, 5000))})).all()
    out = []
    for created_at, row_kind, amount, after, reason, reference, dialog_id, question in rows:
        detail, words = _describe(row_kind, reason or "", reference or "", question)
        out.append(HistoryRow(created_at, row_kind, int(amount), int(after), detail, words, dialog_id))
    return out
