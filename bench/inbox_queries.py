"""Inbox and analytics latency at scale: one owner with 100k dialogs and 1M messages (the worst case:
every row is that owner's), over 90 days, two assistants, four bots.

    .venv/bin/python -m bench.inbox_queries                # seed (~2-4 min on 2 cores), then measure
    .venv/bin/python -m bench.inbox_queries --keep         # keep bench_inbox for a re-run (--reuse)

Prints p50/p95 of each query the inbox and the overview page run: the list (first page, a deep keyset
page, status and assistant filters, a full-text search), a transcript load, the sidebar's unread count,
and the analytics figures for 30 days. Targets: p95 under 300 ms for analytics; the list and transcript
stay in milliseconds at any page depth.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.common import bench_database, percentile

DIALOGS = 100_000
MESSAGES_PER_DIALOG = 10
DAYS = 90
RUNS = 40

_SEED = """
INSERT INTO users (id, email, password_hash, role, locale, blocked, created_at, password_changed_at)
VALUES (:owner, 'bench-inbox@example.com', '-', 'owner', 'en', false, now(), now());
INSERT INTO assistants (id, owner_id, name, system_prompt, model, temperature, greeting, language, top_k,
                        score_threshold, qa_direct_threshold, embedding_provider, handoff_enabled,
                        handoff_on_low_confidence, handoff_timeout_minutes, enabled, created_at, updated_at)
SELECT a, :owner, 'bench ' || i, '', '', 0.2, '', 'auto', 5, 0.3, 0.85, '', true, true, 15, true, now(), now()
FROM unnest(CAST(:assistants AS uuid[])) WITH ORDINALITY AS t(a, i);
INSERT INTO bots (id, assistant_id, owner_id, telegram_bot_id, username, token_encrypted, token_hint, mode,
                  webhook_secret, desired_state, status, last_error, runner_id, created_at, updated_at)
SELECT b, (CAST(:assistants AS uuid[]))[1 + (i % 2)], :owner, 9000000 + i, 'bench_bot_' || i, '-', '', 'polling',
       '', 'running', 'running', '', '', now(), now()
FROM unnest(CAST(:bots AS uuid[])) WITH ORDINALITY AS t(b, i);
INSERT INTO dialogs (id, bot_id, assistant_id, owner_id, channel, telegram_chat_id, telegram_user_id, user_name,
                     user_language, status, cost_micros, last_message_at, created_at, owner_read_at)
SELECT gen_random_uuid(), (CAST(:bots AS uuid[]))[1 + (i % 4)], (CAST(:assistants AS uuid[]))[1 + ((i % 4) % 2)],
       :owner, 'telegram', 100000 + i, 100000 + (i % 60000), 'User ' || i, 'ru',
       CASE WHEN i % 500 = 0 THEN 'waiting' WHEN i % 700 = 0 THEN 'human' ELSE 'ai' END, 0,
       ts, ts - interval '10 minutes',
       CASE WHEN i % 20 = 0 THEN ts - interval '3 minutes' ELSE ts END
FROM (SELECT i, now() - (random() * interval '90 days') AS ts FROM generate_series(1, :n) i) s;
INSERT INTO messages (id, dialog_id, role, text, answered_by, prompt_tokens, completion_tokens, cost_micros, sources,
                      needs_handoff, created_at)
SELECT gen_random_uuid(), d.id,
       CASE WHEN k = 9 AND d.status <> 'ai' THEN 'system' WHEN k % 2 = 0 THEN 'user' ELSE 'assistant' END,
       CASE WHEN k = 9 AND d.status <> 'ai' THEN 'handoff_requested'
            WHEN k % 2 = 0 THEN (ARRAY['Сколько стоит доставка в Москву?', 'How long does delivery take?',
                                       'Можно вернуть товар?', 'Do you ship to Berlin?', 'Какие способы оплаты?',
                                       'Where is my order number ' || (d.telegram_chat_id % 997)])
                 [1 + (k + d.telegram_chat_id::int) % 6]
            ELSE 'Answer text from the knowledge base, item ' || k END,
       CASE WHEN k % 2 = 0 OR (k = 9 AND d.status <> 'ai') THEN ''
            ELSE (ARRAY['qa', 'llm', 'extractive', 'fallback', 'llm'])[1 + (k + d.telegram_chat_id::int) % 5] END,
       0, 0, 0, '[]'::jsonb, false,
       d.last_message_at - (9 - k) * interval '1 minute'
FROM dialogs d, generate_series(0, :per - 1) k
WHERE d.owner_id = :owner;
"""


def _seed(url: str, n: int) -> uuid.UUID:
    owner = uuid.uuid4()
    engine = sa.create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        # Build the full-text index once after loading instead of row by row.
        conn.exec_driver_sql("DROP INDEX ix_messages_tsv")
        params = {"owner": owner, "assistants": [str(uuid.uuid4()) for _ in range(2)],
                  "bots": [str(uuid.uuid4()) for _ in range(4)], "n": n, "per": MESSAGES_PER_DIALOG}
        for statement in _SEED.split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_messages_tsv ON messages USING gin "
                             "((to_tsvector('english', text) || to_tsvector('russian', text)))")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE dialogs")
        conn.exec_driver_sql("VACUUM ANALYZE messages")
        counts = conn.exec_driver_sql("SELECT (SELECT count(*) FROM dialogs), (SELECT count(*) FROM messages)").one()
    engine.dispose()
    print(f"seeded {counts[0]:,} dialogs and {counts[1]:,} messages in {time.perf_counter() - started:.0f} s")
    return owner


async def _measure(owner: uuid.UUID) -> None:
    from chatai.db.session import async_session
    from chatai.services import analytics, inbox

    async with async_session() as s:
        assistant_id = (await s.execute(sa.text("SELECT id FROM assistants WHERE owner_id = :o LIMIT 1"),
                                        {"o": owner})).scalar_one()
        dialog_ids = [r[0] for r in (await s.execute(sa.text(
            "SELECT id FROM dialogs WHERE owner_id = :o ORDER BY random() LIMIT :n"), {"o": owner, "n": RUNS}))]
        stamps = [r[0] for r in (await s.execute(sa.text(
            "SELECT last_message_at FROM dialogs WHERE owner_id = :o ORDER BY random() LIMIT :n"),
            {"o": owner, "n": RUNS}))]
    now = datetime.now(UTC)
    period = analytics.Period(since=now - timedelta(days=30), until=now)
    rng = random.Random(1)

    cases = {
        "inbox list, first page (50)": lambda s, i: inbox.list_dialogs(s, owner_id=owner),
        "inbox list, deep keyset page": lambda s, i: inbox.list_dialogs(
            s, owner_id=owner, cursor=inbox.Cursor(stamps[i], uuid.UUID(int=0))),
        "inbox list, status=waiting": lambda s, i: inbox.list_dialogs(
            s, owner_id=owner, filters=inbox.InboxFilter(status="waiting")),
        "inbox list, assistant + 7 days": lambda s, i: inbox.list_dialogs(
            s, owner_id=owner, filters=inbox.InboxFilter(assistant_id=assistant_id, since=now - timedelta(days=7))),
        "inbox search (rare word)": lambda s, i: inbox.list_dialogs(
            s, owner_id=owner, filters=inbox.InboxFilter(search=f"number {rng.randrange(997)}")),
        "inbox search (common word)": lambda s, i: inbox.list_dialogs(
            s, owner_id=owner, filters=inbox.InboxFilter(search="доставки")),
        "transcript load": lambda s, i: inbox.get_transcript(s, owner_id=owner, dialog_id=dialog_ids[i]),
        "sidebar unread summary": lambda s, i: inbox.unread_summary(s, owner_id=owner),
        "analytics summary, 30 days": lambda s, i: analytics.summary(s, owner_id=owner, period=period),
        "analytics per day, 30 days": lambda s, i: analytics.per_day(s, owner_id=owner, period=period),
        "analytics unanswered, 30 days": lambda s, i: analytics.unanswered(s, owner_id=owner, period=period),
        "analytics summary, 30 days, one assistant": lambda s, i: analytics.summary(
            s, owner_id=owner, period=period, assistant_id=assistant_id),
    }
    print(f"{'query':<44} {'p50 ms':>8} {'p95 ms':>8}")
    async with async_session() as s:
        for name, run in cases.items():
            runs = RUNS if not name.startswith("analytics") else 15
            await run(s, 0)  # warm the cache as a live system would be
            times = []
            for i in range(runs):
                started = time.perf_counter()
                await run(s, i)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{name:<44} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogs", type=int, default=DIALOGS)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--reuse", action="store_true", help="measure an earlier --keep database")
    args = parser.parse_args()
    with bench_database("inbox", keep=args.keep or args.reuse) as url:
        sync_url = url
        if args.reuse:
            engine = sa.create_engine(sync_url)
            with engine.connect() as conn:
                owner = conn.execute(sa.text("SELECT id FROM users WHERE email = 'bench-inbox@example.com'")).scalar()
            engine.dispose()
            if owner is None:
                owner = _seed(sync_url, args.dialogs)
        else:
            owner = _seed(sync_url, args.dialogs)
        from chatai.cli_support import run_async

        run_async(_measure(owner))


if __name__ == "__main__":
    main()
