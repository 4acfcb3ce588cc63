"""Team seats (issue 23): what the one access check adds to every dashboard event, and what the inbox's
"mine" / "unassigned" filters cost against the unfiltered list, measured in one run.

    .venv/bin/python -m bench.team_access [--dialogs 20000] [--assigned 0.2]

Seeds the inbox bench's dialogs (bench/inbox_queries.py, 10 messages each) for one owner, an operator with a
seat, and assigns `--assigned` of the dialogs half to each. Per event before teams: the session check
(accounts.user_for_token); now also the seat (team.members.resolve_access: no query for the owner, one for a
member). Medians and p95 of alternating runs, ratios in the same run.
"""

from __future__ import annotations

import argparse
import time
import uuid

import sqlalchemy as sa

from bench.common import bench_database, percentile
from bench.inbox_queries import _seed

RUNS = 200
LIST_RUNS = 40


def _team(url: str, owner: uuid.UUID, share: float) -> tuple[uuid.UUID, int]:
    engine = sa.create_engine(url)
    operator = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, email, password_hash, role, locale, blocked, created_at, "
                             "password_changed_at) VALUES (:id, 'bench-operator@example.com', '-', 'owner', 'en', "
                             "false, now(), now())"), {"id": operator})
        conn.execute(sa.text("INSERT INTO team_members (id, business_id, user_id, role, created_at) "
                             "VALUES (:id, :b, :u, 'operator', now())"),
                     {"id": uuid.uuid4(), "b": owner, "u": operator})
        assigned = conn.execute(sa.text("""
            INSERT INTO dialog_assignments (dialog_id, business_id, user_id, assigned_at)
            SELECT id, owner_id, CASE WHEN random() < 0.5 THEN :op ELSE owner_id END, now()
            FROM dialogs WHERE owner_id = :b AND random() < :share"""), {"op": operator, "b": owner, "share": share})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE dialog_assignments")
    engine.dispose()
    return operator, assigned.rowcount


async def _measure(owner: uuid.UUID, operator: uuid.UUID) -> None:
    from chatai.db.session import async_session
    from chatai.services import accounts
    from chatai.services import inbox as inbox_svc
    from chatai.team import members

    async with async_session() as s:
        token = await accounts._start_session(s, await s.get(accounts.User, operator), "bench")  # noqa: SLF001
    checks = {
        "session only (before teams)": lambda s: accounts.user_for_token(s, token),
        "session + seat, owner": lambda s: _both(s, token, owner, owner),
        "session + seat, operator": lambda s: _both(s, token, operator, owner),
    }

    async def _both(s, tok, user_id, business_id):
        await accounts.user_for_token(s, tok)
        return await members.resolve_access(s, user_id=user_id, email="", business_id=business_id)

    lists = {
        "inbox first page, all": inbox_svc.InboxFilter(),
        "inbox first page, mine": inbox_svc.InboxFilter(scope="mine", scope_user=operator),
        "inbox first page, unassigned": inbox_svc.InboxFilter(scope="unassigned", scope_user=operator),
    }
    times: dict[str, list[float]] = {name: [] for name in [*checks, *lists]}
    async with async_session() as s:
        for run in (*checks.values(),):
            await run(s)  # warm
        for _ in range(RUNS):  # alternating, so load on the machine falls on every case alike
            for name, run in checks.items():
                started = time.perf_counter()
                await run(s)
                times[name].append((time.perf_counter() - started) * 1000)
        for filters in lists.values():
            await inbox_svc.list_dialogs(s, owner_id=owner, filters=filters)
        for _ in range(LIST_RUNS):
            for name, filters in lists.items():
                started = time.perf_counter()
                await inbox_svc.list_dialogs(s, owner_id=owner, filters=filters)
                times[name].append((time.perf_counter() - started) * 1000)
    print(f"{'case':<34} {'p50 ms':>8} {'p95 ms':>8} {'ratio p50':>10}")
    for group, base in ((checks, "session only (before teams)"), (lists, "inbox first page, all")):
        base_p50 = percentile(times[base], 50)
        for name in group:
            p50 = percentile(times[name], 50)
            print(f"{name:<34} {p50:>8.2f} {percentile(times[name], 95):>8.2f} {p50 / base_p50:>10.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogs", type=int, default=20_000)
    parser.add_argument("--assigned", type=float, default=0.2)
    args = parser.parse_args()
    with bench_database("team_access") as url:
        owner = _seed(url, args.dialogs)
        operator, assigned = _team(url, owner, args.assigned)
        print(f"assigned {assigned:,} dialogs (half to the operator)")
        from chatai.cli_support import run_async

        run_async(_measure(owner, operator))
    with open("/proc/loadavg") as f:
        print(f"load average: {f.read().split()[:3]}")


if __name__ == "__main__":
    main()
