"""Charging answers: a reservation per answer, committed when it was delivered, released when not.

An answer: `reserve` (hold +price, before generating) -> `settle(commit=True)` when delivered (amount
-price, hold -price) or `settle(commit=False)` when not (hold -price). A Charge row per key moves
open -> committed | released exactly once (conditional UPDATE on its status), so a runner, a retry and the
settle sweep racing each other still settle it once. Balances and the ledger: services/billing.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.models import utcnow
from chatai.db.money_models import Charge
from chatai.services import notifications
from chatai.services.dialogs import ASYNC_COMMIT

# What kind of delivered reply is billed as which item; anything else (greeting, notices, "I don't know"
# fallbacks) is free.
CHARGED_REPLIES = {"llm": "answer", "extractive": "answer", "qa": "qa_answer"}


def charged_answer_sql(ledger: str) -> str:
    """The one definition of "an answer" wherever answers and money are counted together (the owner's
    history, the admin money page): a ledger commit row that took money. Holds, releases, free replies
    ("don't know", greetings) and answers committed at a price of zero are not answers charged. `ledger` is
    the SQL alias of ledger_entries."""
    return f"({ledger}.kind = 'commit' AND {ledger}.amount_micros < 0)"


# Why each of these is one statement: an answer reserves and settles on its owner's account row, and the
# ORM session version (a dozen round trips, savepoints, two synchronously flushed commits) cost the bot
# runner ~7 ms of CPU per answer and capped it near 85 answers/s (bench/README.md, "Billing in one
# statement"). They commit without waiting for the WAL flush (ASYNC_COMMIT): atomic all the same, and a
# PostgreSQL crash can lose only the last moment's charges, never half of one.
_RESERVE = sa.text(ASYNC_COMMIT + """,
    existing AS (SELECT status FROM charges WHERE idempotency_key = :key),
    acc AS MATERIALIZED (
        SELECT user_id FROM billing_accounts
        WHERE user_id = :account AND balance_micros >= reserved_micros + :amount
          AND NOT EXISTS (SELECT 1 FROM existing)
        FOR UPDATE),
    ch AS (
        INSERT INTO charges (id, account_id, idempotency_key, bot_id, update_id, dialog_id, message_id, item,
                             amount_micros, status, created_at)
        SELECT :cid, :account, :key, :bot, :update_id, :dialog, NULL, :item, :amount, 'open', now() FROM acc
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id),
    upd AS (
        UPDATE billing_accounts b SET reserved_micros = b.reserved_micros + :amount, updated_at = now()
        FROM ch WHERE b.user_id = :account
        RETURNING b.balance_micros),
    led AS (
        INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, reference,
                                    idempotency_key, balance_after_micros, actor_id, created_at)
        SELECT :lid, :account, 0, :amount, 'reserve', '', :key, :lkey, upd.balance_micros, NULL, now() FROM upd)
    SELECT (SELECT status FROM existing) AS existing, (SELECT count(*) FROM ch) AS reserved,
           (SELECT count(*) FROM acc) AS had_room
    FROM async_commit
""")

# The committed amount: the price of the item delivered, as it was when the charge was reserved, never more
# than the reservation. The CHECK constraints of billing_accounts refuse a movement that would break the
# balance rules, which aborts the whole statement (the charge stays open for the settle sweep).
_SETTLE = sa.text(ASYNC_COMMIT + """,
    c AS (
        UPDATE charges SET status = :status, settled_at = now(), item = coalesce(:item, item),
                           message_id = coalesce(CAST(:message AS uuid), message_id)
        WHERE idempotency_key = :key AND status = 'open'
        RETURNING account_id, amount_micros, dialog_id, message_id, item, created_at),
    p AS MATERIALIZED (
        SELECT c.*, CASE WHEN NOT :commit THEN 0
                         WHEN :priced THEN least(c.amount_micros, coalesce((
                             SELECT pr.price_micros FROM prices pr
                             WHERE pr.item = c.item AND pr.channel = 'telegram' AND pr.effective_from <= c.created_at
                             ORDER BY pr.effective_from DESC LIMIT 1), 0))
                         ELSE c.amount_micros END AS charged
        FROM c),
    upd AS (
        UPDATE billing_accounts b SET balance_micros = b.balance_micros - p.charged,
                                      reserved_micros = b.reserved_micros - p.amount_micros, updated_at = now()
        FROM p WHERE b.user_id = p.account_id
        RETURNING b.balance_micros, b.reserved_micros),
    led AS (
        INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, reference,
                                    idempotency_key, balance_after_micros, actor_id, created_at)
        SELECT :lid, p.account_id, -p.charged, -p.amount_micros, :kind, '', :key, :lkey, upd.balance_micros, NULL,
               now()
        FROM p, upd),
    msg AS (UPDATE messages m SET cost_micros = m.cost_micros + p.charged FROM p
            WHERE m.id = p.message_id AND p.charged > 0),
    dlg AS (UPDATE dialogs d SET cost_micros = d.cost_micros + p.charged FROM p
            WHERE d.id = p.dialog_id AND p.charged > 0)
    SELECT p.account_id, p.charged, upd.balance_micros, upd.reserved_micros FROM async_commit, p, upd
""")


async def reserve(session: AsyncSession | AsyncConnection, *, account_id: uuid.UUID, key: str, amount_micros: int,
                  bot_id: uuid.UUID | None = None, update_id: int | None = None,
                  dialog_id: uuid.UUID | None = None, item: str = "answer") -> str:
    """Set the price of an answer aside before generating it. Returns 'reserved', 'refused' (not enough
    available money: nothing is written), or the status of the charge this key already has ('open',
    'committed', 'released': a re-delivered or recovered message is never reserved twice). One statement on a
    session (inside its transaction) or an autocommit connection (the bot runner: committed by itself)."""
    row = (await session.execute(_RESERVE, {
        "key": key, "account": account_id, "amount": amount_micros, "cid": uuid.uuid4(), "bot": bot_id,
        "update_id": update_id, "dialog": dialog_id, "item": item, "lid": uuid.uuid4(), "lkey": f"{key}:reserve",
    })).one()
    if row.existing is not None:
        return str(row.existing)
    if row.reserved:
        return "reserved"
    if row.had_room:  # the same key reserved by someone else a moment ago (its row appeared meanwhile)
        return str((await session.execute(sa.select(Charge.status).where(Charge.idempotency_key == key))).scalar())
    return "refused"


@dataclass(frozen=True)
class Settlement:
    account_id: uuid.UUID
    charged: int  # micros taken from the balance (0 for a release)
    balance_micros: int  # the account after it
    reserved_micros: int


async def settle(session: AsyncSession | AsyncConnection, *, key: str, commit: bool, item: str | None = None,
                 message_id: uuid.UUID | None = None) -> Settlement | None:
    """Commit (delivered) or release (not delivered) an open charge, once, in one statement: the charge, the
    account, its ledger row and the cost on the reply and the dialog. None when it was not open."""
    action = "commit" if commit else "release"
    row = (await session.execute(_SETTLE, {
        "key": key, "status": "committed" if commit else "released", "item": item,
        "message": str(message_id) if message_id else None, "commit": commit, "priced": item is not None,
        "lid": uuid.uuid4(), "kind": action, "lkey": f"{key}:{action}",
    })).first()
    return None if row is None else Settlement(row.account_id, int(row.charged), int(row.balance_micros),
                                               int(row.reserved_micros))


async def settle_charge(session: AsyncSession, *, key: str, commit: bool, item: str | None = None,
                        message_id: uuid.UUID | None = None) -> int:
    """`settle`, then the owner's low-balance mail when this charge crossed the threshold. Returns the micros
    charged."""
    done = await settle(session, key=key, commit=commit, item=item, message_id=message_id)
    if done is None:
        return 0
    if done.charged:
        await notifications.balance_moved(session, account_id=done.account_id, key=key,
                                          balance_before=done.balance_micros + done.charged,
                                          balance_after=done.balance_micros)
    return done.charged


# Open charges of answers, with what became of their Telegram update and reply (none for other channels).
_STALE = sa.text("""
    SELECT c.idempotency_key, c.created_at, t.status, m.id, m.answered_by
    FROM charges c
    LEFT JOIN telegram_updates t ON t.bot_id = c.bot_id AND t.update_id = c.update_id
    LEFT JOIN LATERAL (SELECT id, answered_by FROM messages
                       WHERE dialog_id = c.dialog_id AND role = 'assistant' AND telegram_update_id = c.update_id
                       ORDER BY created_at DESC LIMIT 1) m ON true
    WHERE c.status = 'open' AND c.created_at < :settled_before
      -- Another channel's answer (the widget, chatai/conversation) has no update row telling how it ended: its
      -- own settle decides until max_age (a release here would make a delivered answer free).
      AND (c.update_id IS NOT NULL OR c.created_at < :abandoned_before)
    ORDER BY c.created_at
    LIMIT :limit
""")


async def settle_stale(session: AsyncSession, *, min_age: timedelta = timedelta(seconds=30),
                       max_age: timedelta = timedelta(minutes=15), limit: int = 500) -> dict[str, int]:
    """Settle reservations left by a runner that died between reserve and commit: an update marked answered
    with a billable reply is committed; ignored, unanswered past `max_age`, or billed-for-nothing is
    released. Younger ones may still be in flight and are left alone, and so is a charge of a channel without
    Telegram updates until `max_age` (then released). Commits per charge."""
    now = utcnow()
    rows = (await session.execute(_STALE, {"settled_before": now - min_age, "abandoned_before": now - max_age,
                                           "limit": limit})).all()
    done = {"committed": 0, "released": 0}
    for key, created_at, update_status, reply_id, answered_by in rows:
        item = CHARGED_REPLIES.get(answered_by or "")
        if update_status == "answered" and item:
            await settle_charge(session, key=key, commit=True, item=item, message_id=reply_id)
            done["committed"] += 1
        elif update_status in (None, "ignored", "failed", "answered") or created_at < now - max_age:
            await settle_charge(session, key=key, commit=False)
            done["released"] += 1
        await session.commit()
    return done
