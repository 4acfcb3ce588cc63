"""Admin money page queries against a ledger of growing size (issue 23): answers charged split into top-up and
bonus money first in first out over each account's whole ledger, LLM cost, per day and per account.

    .venv/bin/python -m bench.admin_money [--accounts 1000] [--sizes 50 500]

For each size S, every account gets a welcome credit, a top-up and S answers charged (plus a reserve row of
0.00 before each, as in production) spread over the last 120 days, and one LLM reply per answer. Prints the
median of daily_figures and account_figures over the last 30 and 90 days at each size, and the ratio of the
largest size to the smallest measured in the same run (the split reads each charged account's whole history).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import sqlalchemy as sa

from bench.common import bench_database

RUNS = 5

_SEED = """
INSERT INTO users (id, email, password_hash, role, locale, blocked, created_at, password_changed_at)
SELECT gen_random_uuid(), 'owner' || i || '@example.com', '-', 'owner', 'en', false,
       now() - interval '121 days', now()
FROM generate_series(1, :accounts) AS i;
INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, reference, idempotency_key,
                            balance_after_micros, created_at)
SELECT gen_random_uuid(), id, 100000000, 0, 'welcome', '', '', 'welcome:' || id, 0, now() - interval '121 days'
FROM users
UNION ALL
SELECT gen_random_uuid(), id, 100000000000, 0, 'topup', '', '', 'topup:' || id, 0, now() - interval '120 days'
FROM users;
INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, reference, idempotency_key,
                            balance_after_micros, created_at)
SELECT gen_random_uuid(), u.id, CASE WHEN r = 0 THEN 0 ELSE -5000000 END,
       CASE WHEN r = 0 THEN 5000000 ELSE -5000000 END,
       CASE WHEN r = 0 THEN 'reserve' ELSE 'commit' END, '', '', 'k:' || u.id || ':' || n || ':' || r, 0,
       now() - interval '119 days' + make_interval(secs => n * (119 * 86400 / :size)) + make_interval(secs => r)
FROM users u, generate_series(1, :size) AS n, generate_series(0, 1) AS r;
"""

# After the accounts' assistants and dialogs (made with the models: every default filled in).
_MESSAGES = """
INSERT INTO messages (id, dialog_id, role, text, answered_by, prompt_tokens, completion_tokens, cost_micros,
                      sources, needs_handoff, delivery_status, delivery_error, created_at)
SELECT gen_random_uuid(), d.id, 'assistant', 'answer', 'llm', 1200, 150, 5000000, '[]', false, 'sent', '',
       now() - interval '119 days' + make_interval(secs => n * (119 * 86400 / :size))
FROM dialogs d, generate_series(1, :size) AS n;
ANALYZE users; ANALYZE ledger_entries; ANALYZE messages; ANALYZE dialogs;
"""


def _seed(url: str, accounts: int, size: int) -> int:
    from sqlmodel import Session

    from chatai.db.models import Assistant, Dialog

    engine = sa.create_engine(url)
    params = {"accounts": accounts, "size": size}
    with engine.begin() as conn:
        # Bulk rows with the per-row triggers off (the spend sort key of the admin user list, the append-only
        # guard): the figures measured read none of what they maintain.
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in _SEED.split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement), params)
        owners = list(conn.execute(sa.text("SELECT id FROM users")).scalars())
    with Session(engine) as session:
        assistants = [Assistant(owner_id=owner, name="Support") for owner in owners]
        session.add_all(assistants)
        session.flush()
        session.add_all([Dialog(assistant_id=a.id, owner_id=a.owner_id) for a in assistants])
        session.commit()
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for statement in _MESSAGES.split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement), params)
        rows = conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar()
    engine.dispose()
    return int(rows)


async def _measure() -> dict[str, float]:
    from chatai.db.session import async_session
    from chatai.services import admin_money
    from chatai.services.accounts import CurrentUser

    admin = CurrentUser(id=uuid.uuid4(), email="root@example.com", role="admin", locale="en")
    out = {}
    async with async_session() as s:
        for days in (30, 90):
            period = admin_money.Period.last_days(days)
            for name, call in (("daily_figures", admin_money.daily_figures),
                               ("account_figures", admin_money.account_figures)):
                times = []
                for _ in range(RUNS):
                    started = time.perf_counter()
                    await call(s, admin=admin, period=period)
                    times.append(time.perf_counter() - started)
                out[f"{name}, last {days} days"] = statistics.median(times) * 1000
    return out


def _run(accounts: int, sizes: list[int]) -> None:
    results: dict[int, dict[str, float]] = {}
    with bench_database("admin_money") as url:
        for size in sizes:
            engine = sa.create_engine(url)
            with engine.begin() as conn:  # the books refuse TRUNCATE unless replaying as a replica (a superuser)
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                conn.execute(sa.text("TRUNCATE users, ledger_entries, messages, dialogs, assistants CASCADE"))
            engine.dispose()
            started = time.perf_counter()
            rows = _seed(url, accounts, size)
            print(f"size {size}: {rows:,} ledger rows seeded in {time.perf_counter() - started:.1f} s", flush=True)
            results[size] = asyncio.run(_measure())
    small, large = min(sizes), max(sizes)
    print(f"\n{'query (median of ' + str(RUNS) + ')':<40}" + "".join(f"{f'{s} ans/acct ms':>18}" for s in sizes)
          + f"{'ratio':>8}")
    for name in results[small]:
        print(f"{name:<40}" + "".join(f"{results[s][name]:>18.1f}" for s in sizes)
              + f"{results[large][name] / results[small][name]:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500], help="answers charged per account")
    args = parser.parse_args()
    _run(args.accounts, args.sizes)


if __name__ == "__main__":
    main()
