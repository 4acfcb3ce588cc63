"""Admin user list latency with 100k users: search by email, the four sorts both ways, deep keyset pages.

    .venv/bin/python -m bench.admin_users            # seed 100k users (~1 min), then measure
    .venv/bin/python -m bench.admin_users --keep     # keep bench_admin_users for a re-run (--reuse)

Every user gets a billing account, a spend (committed charges in the ledger, so the user_activity trigger
fills the sort key as in production) and a last activity (a session). Prints p50/p95 of each list query the
admin page runs (services/admin.list_users, 50 rows + 1). Target: p95 under 100 ms for every one.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import sqlalchemy as sa

from bench.common import bench_database, percentile

USERS = 100_000
RUNS = 30

_SEED = """
INSERT INTO users (id, email, password_hash, role, locale, blocked, created_at, password_changed_at,
                   email_verified_at)
SELECT gen_random_uuid(), 'user' || i || '@' || (ARRAY['example.com','shop.ru','mail.test'])[1 + i % 3], '-',
       CASE WHEN i = 1 THEN 'admin' ELSE 'owner' END, 'en', i % 97 = 0,
       now() - make_interval(mins => i * 5), now(), now()
FROM generate_series(1, :n) AS i;
INSERT INTO billing_accounts (user_id, balance_micros, reserved_micros, low_balance_micros, updated_at)
SELECT id, (abs(hashtext(id::text)) % 100000) * 10000, 0, 5000000, now() FROM users;
INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, reference, idempotency_key,
                            balance_after_micros, created_at)
SELECT gen_random_uuid(), id, -(abs(hashtext(id::text || 's')) % 50000) * 1000, 0, 'commit', '', '',
       'bench:' || id, 0, now()
FROM users;
INSERT INTO user_sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at, client)
SELECT gen_random_uuid(), id, md5(id::text), now(), now() + interval '1 day',
       now() - make_interval(secs => abs(hashtext(id::text || 'a')) % 8000000), ''
FROM users;
ANALYZE users; ANALYZE billing_accounts; ANALYZE user_activity; ANALYZE ledger_entries;
"""


async def _measure() -> list[tuple[str, float, float]]:
    from chatai.db.models import User
    from chatai.db.session import async_session
    from chatai.services import admin
    from chatai.services.accounts import CurrentUser

    async with async_session() as s:
        root = (await s.execute(sa.select(User).where(User.role == "admin").limit(1))).scalar_one()
    me = CurrentUser(id=root.id, email=root.email, role="admin", locale="en")
    cases: list[tuple[str, dict]] = []
    for sort in admin.SORTS:
        for descending in (True, False):
            cases.append((f"{sort} {'desc' if descending else 'asc'} page 1", {"sort": sort, "descending": descending}))
    cases += [("search 'user4242' (signup)", {"query": "user4242"}),
              ("search 'shop.ru' (balance)", {"query": "shop.ru", "sort": "balance"}),
              ("search 'nomatch' (spend)", {"query": "nomatch-xyz", "sort": "spend"})]
    results = []
    async with async_session() as s:
        for label, kw in cases:
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                await admin.list_users(s, admin=me, limit=admin.PAGE_SIZE + 1, **kw)
                times.append((time.perf_counter() - t0) * 1000)
            results.append((label, percentile(times, 50), percentile(times, 95)))
        # Deep pages: walk 1000 pages in (50k rows) by keyset, then time the next page.
        for sort in admin.SORTS:
            after = ""
            for _ in range(1000):
                page = await admin.list_users(s, admin=me, sort=sort, after=after, limit=admin.PAGE_SIZE)
                after = page[-1].cursor(sort)
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                await admin.list_users(s, admin=me, sort=sort, after=after, limit=admin.PAGE_SIZE + 1)
                times.append((time.perf_counter() - t0) * 1000)
            results.append((f"{sort} desc page 1001 (keyset)", percentile(times, 50), percentile(times, 95)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    with bench_database("admin_users", keep=args.keep or args.reuse):
        from chatai.db.session import get_engine

        engine = get_engine()
        with engine.begin() as conn:
            have = conn.execute(sa.text("SELECT count(*) FROM users")).scalar()
            if not have:
                t0 = time.perf_counter()
                for statement in _SEED.split(";"):
                    if statement.strip():
                        conn.execute(sa.text(statement), {"n": USERS})
                print(f"seeded {USERS} users in {time.perf_counter() - t0:.1f} s", flush=True)
        results = asyncio.run(_measure())
    worst = 0.0
    print(f"{'query':<40} {'p50 ms':>8} {'p95 ms':>8}")
    for label, p50, p95 in results:
        worst = max(worst, p95)
        print(f"{label:<40} {p50:>8.1f} {p95:>8.1f}")
    print(f"worst p95: {worst:.1f} ms (target < 100 ms): {'OK' if worst < 100 else 'OVER'}")
    return 0 if worst < 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())
