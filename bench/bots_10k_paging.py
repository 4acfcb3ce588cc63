"""bench.bots_10k's paging part: the bot lists' keyset paging with 10,000 bots of one owner (the owner's bots
page, the admin bots page, `bots list`), timed at the first, a middle and the last page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from bench.common import percentile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def paging(out: list[str], rounds: int = 30) -> None:
    """p50/p95 of the first, a middle and the last page of each list (10,000 bots of one owner)."""
    import sqlalchemy as sa

    from chatai.db.models import User
    from chatai.db.session import async_session
    from chatai.services import admin as admin_svc
    from chatai.services import bots as bots_svc
    from chatai.services.accounts import CurrentUser

    async def every_cursor(read_page: Any) -> list[str]:
        """The cursor of each page of a list, the first page's ("") included."""
        cursors = [""]
        while next_after := (await read_page(cursors[-1])).next_after:
            cursors.append(next_after)
        return cursors

    async with async_session() as s:
        owner_id = await s.scalar(sa.select(User.id).limit(1))
        admin = CurrentUser(id=owner_id, email="bench@example.com", role="admin", locale="en")
        cursors = await every_cursor(lambda after: bots_svc.list_bots_page(s, owner_id=owner_id, after=after))
        admin_cursors = await every_cursor(lambda after: admin_svc.bots_page(s, admin=admin, after=after))

    async def timed(fn: Any) -> list[float]:
        times = []
        for _ in range(rounds):
            async with async_session() as s:
                t = time.perf_counter()
                await fn(s)
                times.append((time.perf_counter() - t) * 1000)
        return times

    picks = {"first": 0, "middle": len(cursors) // 2, "last": len(cursors) - 1}
    out.append(f"paging: {len(cursors)} owner pages / {len(admin_cursors)} admin pages of "
               f"{bots_svc.PAGE_SIZE}; {rounds} reads each (session + query)")
    for name, i in picks.items():
        owner_t = await timed(lambda s, c=cursors[i]: bots_svc.list_bots_page(s, owner_id=owner_id, after=c))
        j = {"first": 0, "middle": len(admin_cursors) // 2, "last": len(admin_cursors) - 1}[name]
        admin_t = await timed(lambda s, c=admin_cursors[j]: admin_svc.bots_page(s, admin=admin, after=c))
        cli_t = await timed(lambda s, c=cursors[i]: bots_svc.list_bots_page(s, owner_id=None, after=c, limit=500))
        out.append(f"  {name:6} page: owner {_p50_p95(owner_t)}; admin {_p50_p95(admin_t)}; bots list (500 rows) "
                   f"{_p50_p95(cli_t)} (target p95 < 100 ms)")


def _p50_p95(times: list[float]) -> str:
    return f"p50 {percentile(times, 50):.1f} / p95 {percentile(times, 95):.1f} ms"


def time_cli_list(out: list[str]) -> None:
    t = time.perf_counter()
    listed = subprocess.run([sys.executable, "-m", "chatai", "bots", "list"], cwd=HERE, capture_output=True, text=True)
    out.append(f"  `python -m chatai bots list`: {len(listed.stdout.splitlines())} lines in "
               f"{time.perf_counter() - t:.1f} s (process start included)")
