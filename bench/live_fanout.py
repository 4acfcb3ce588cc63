"""Live inbox views against the number of open tabs (issue 24): the web worker's fan-out as it runs, without
the browsers. Dialog events are written and published on Redis like the runner's; one subscriber (the real
`run_dialog_subscriber`) hands them to the fan-out; every tab is a real signed-in Reflex state tree (its own
session) with the inbox loaded, updated as chatai/web/live.py updates it, minus the WebSocket frame.

    .venv/bin/python -m bench.live_fanout [--rate 30] [--seconds 10]

Two layouts: 50 tabs of one business, and 200 tabs across 50 businesses; each with the fan-out of now
(`after`: one read per owner per batch, rows merged into each tab, a queue per tab) and the one before it
(`before`: each tab re-checked its session and re-read its list, the subscriber waiting for every tab before
the next batch), in the same run. Reported: database statements per event, each event's delay until every tab
showed it (p50 / p95 / max over event x tab), and the subscriber's CPU per event. Not measured here: the
WebSocket frame and the browser applying it (bench.whole_path measures those with Chromium tabs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench.common import bench_database, percentile


@dataclass
class Tab:
    owner_id: uuid.UUID
    root: Any
    inbox: Any
    badge: Any
    seen: list[tuple[float, set[uuid.UUID]]] = field(default_factory=list)  # (when, dialogs it was shown)


@dataclass
class Business:
    owner_id: uuid.UUID
    dialogs: list[uuid.UUID]
    tabs: list[Tab] = field(default_factory=list)


async def _businesses(count: int, tabs_each: int, dialogs_each: int = 20) -> list[Business]:
    """`count` owners, each with dialogs and `tabs_each` signed-in tabs (a session each, as staff seats)."""
    from chatai.db.models import Dialog, Message
    from chatai.db.session import async_session
    from chatai.services import accounts, assistants
    from chatai.web.live import LiveBadgeState, register_tab
    from chatai.web.state.inbox import InboxState
    from tests.web.clients import signed_in_root

    out = []
    for b in range(count):
        async with async_session() as s:
            user = await accounts.create_user(s, email=f"live-{uuid.uuid4().hex[:10]}@example.com",
                                              password=f"bench password {b}")
            assistant = await assistants.create_assistant(s, owner_id=user.id, name=f"Business {b}")
            dialogs = []
            for n in range(dialogs_each):
                dialog = Dialog(owner_id=user.id, assistant_id=assistant.id, user_name=f"Customer {n}",
                                last_message_at=datetime.now(UTC))
                s.add(dialog)
                await s.flush()
                s.add(Message(dialog_id=dialog.id, role="user", text=f"first question {n}"))
                dialogs.append(dialog.id)
            tokens = [await accounts._start_session(s, user, "bench") for _ in range(tabs_each)]
            await s.commit()
        business = Business(user.id, dialogs)
        for token in tokens:
            root = await signed_in_root(token)
            register_tab(f"bench-{uuid.uuid4().hex}", user.id, token)  # what the tab's sidebar does on mount
            inbox = await root.get_state(InboxState)
            await InboxState.load_inbox.fn(inbox)
            business.tabs.append(Tab(user.id, root, inbox, await root.get_state(LiveBadgeState)))
        out.append(business)
    return out


def _after(businesses: list[Business]) -> Any:
    """The fan-out of now (chatai/web/live.py), delivering into the tabs' states."""
    from chatai.services.live import LiveFanout
    from chatai.web.live import _tab_access, read_owner_change

    tabs = {f"{b.owner_id}:{i}": t for b in businesses for i, t in enumerate(b.tabs)}
    by_owner: dict[uuid.UUID, list[str]] = {}
    for key, tab in tabs.items():
        by_owner.setdefault(tab.owner_id, []).append(key)

    async def deliver(key: str, change: Any) -> bool:
        tab = tabs[key]
        access = await _tab_access(tab.root, change)  # the team's access check, as chatai/web/live.py does
        if access is None:
            return False
        if change.summary is not None:
            tab.badge._show(change.summary, announce=True)
        await tab.inbox.apply_live(access, change)
        tab.seen.append((time.perf_counter(), set(change.dialog_ids)))
        return True

    fanout = LiveFanout(tabs_of=lambda owner: by_owner.get(owner, []), read=read_owner_change, deliver=deliver)
    return fanout.dispatch


def _before(businesses: list[Business]) -> Any:
    """The fan-out before issue 24: the owner's counts read once, then every tab re-checked its session and
    re-read its list (InboxState.refresh_live), and the batch finished for all tabs before the next."""
    from chatai.db.session import async_session
    from chatai.services import inbox as inbox_svc
    from chatai.services.live import group_by_owner

    owners = {b.owner_id: b for b in businesses}

    async def push(tab: Tab, owner_id: uuid.UUID, dialog_ids: set[uuid.UUID], summary: Any) -> None:
        if await tab.badge.refresh(owner_id, announce=True, summary=summary):
            await tab.inbox.refresh_live(owner_id, dialog_ids)
            tab.seen.append((time.perf_counter(), set(dialog_ids)))

    async def dispatch(events: list[Any]) -> None:
        pushes = []
        for owner_id, owner_events in group_by_owner(events).items():
            business = owners.get(owner_id)
            if business is None:
                continue
            async with async_session() as session:
                summary = await inbox_svc.unread_summary(session, owner_id=owner_id)
            pushes.extend(push(t, owner_id, {e.dialog_id for e in owner_events}, summary) for t in business.tabs)
        await asyncio.gather(*pushes)

    return dispatch


async def _publish_load(businesses: list[Business], rate: float, seconds: float) -> list[tuple[float, uuid.UUID,
                                                                                               uuid.UUID]]:
    """`rate` dialog events per second: a message written, then its nudge published (as the runner does)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from chatai.cache import get_redis
    from chatai.db.models import Dialog, Message
    from chatai.db.session import database_url
    from chatai.services.dialogs import DIALOG_EVENTS_CHANNEL

    rng = random.Random(24)  # noqa: S311 - not security
    sent = []
    writer = create_async_engine(database_url())  # its own engine: its statements are not the fan-out's
    start = time.perf_counter()
    n = 0
    while n < rate * seconds:
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        business = businesses[n % len(businesses)]
        dialog_id = rng.choice(business.dialogs)
        async with AsyncSession(writer) as s:
            s.add(Message(dialog_id=dialog_id, role="user", text=f"question {n}"))
            await s.execute(sa.update(Dialog).where(Dialog.id == dialog_id).values(last_message_at=datetime.now(UTC)))
            await s.commit()
        sent.append((time.perf_counter(), business.owner_id, dialog_id))
        await get_redis().publish(DIALOG_EVENTS_CHANNEL, json.dumps(
            {"type": "message", "dialog_id": str(dialog_id), "owner_id": str(business.owner_id), "role": "user"}))
        n += 1
    await writer.dispose()
    return sent


def _delays(businesses: list[Business], sent: list[tuple[float, uuid.UUID, uuid.UUID]]) -> tuple[list[float], int]:
    """Per event and tab of its owner: seconds until a push naming its dialog reached the tab; and how many
    (event, tab) pairs never got one."""
    owners = {b.owner_id: b for b in businesses}
    delays, missing = [], 0
    for at, owner_id, dialog_id in sent:
        for tab in owners[owner_id].tabs:
            shown = next((t for t, ids in tab.seen if t >= at and dialog_id in ids), None)
            if shown is None:
                missing += 1
            else:
                delays.append(shown - at)
    return delays, missing


async def _scenario(name: str, owners: int, tabs_each: int, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    from chatai.db.session import get_async_engine
    from chatai.services.live import run_dialog_subscriber

    businesses = await _businesses(owners, tabs_each)
    handle = _after(businesses) if mode == "after" else _before(businesses)
    statements = [0]

    def count(*_a: Any) -> None:
        statements[0] += 1

    batches = [0]

    async def counted(events: list[Any]) -> None:
        batches[0] += 1
        await handle(events)

    subscriber = asyncio.create_task(run_dialog_subscriber(counted))
    await asyncio.sleep(1.0)  # subscribed
    engine = get_async_engine().sync_engine
    sa.event.listen(engine, "before_cursor_execute", count)
    cpu0 = time.process_time()
    try:
        sent = await _publish_load(businesses, args.rate, args.seconds)
        deadline = time.perf_counter() + args.drain
        while time.perf_counter() < deadline:
            delays, missing = _delays(businesses, sent)
            if not missing:
                break
            await asyncio.sleep(2.0)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        subscriber.cancel()
    cpu = time.process_time() - cpu0
    delays, missing = _delays(businesses, sent)
    return {"name": name, "mode": mode, "events": len(sent), "tabs": owners * tabs_each,
            "statements_per_event": statements[0] / max(1, len(sent)), "batches": batches[0],
            "statements_per_batch": statements[0] / max(1, batches[0]),
            "p50": percentile(delays, 50) if delays else float("nan"),
            "p95": percentile(delays, 95) if delays else float("nan"),
            "max": max(delays, default=float("nan")), "missing": missing,
            "cpu_per_event_ms": cpu / max(1, len(sent)) * 1000}


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for name, owners, tabs_each in (("50 tabs of one business", 1, 50), ("200 tabs across 50 businesses", 50, 4)):
        for mode in ("before", "after"):
            results.append(await _scenario(name, owners, tabs_each, mode, args))
            print(_line(results[-1]), flush=True)
    return results


def _line(r: dict[str, Any]) -> str:
    return (f"  {r['name']}, {r['mode']:6}: {r['events']} events in {r['batches']} batches, "
            f"{r['statements_per_batch']:.1f} statements per batch ({r['statements_per_event']:.1f} per event); "
            f"shown in every tab p50 {r['p50'] * 1000:.0f} ms, p95 {r['p95'] * 1000:.0f} ms, max "
            f"{r['max'] * 1000:.0f} ms, not shown {r['missing']}; CPU of this process (fan-out and the load's "
            f"writes) {r['cpu_per_event_ms']:.1f} ms per event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=30.0, help="dialog events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the last pushes")
    args = parser.parse_args()
    import os

    print(f"live_fanout: {args.rate:g} dialog events/s for {args.seconds:g} s; load average "
          f"{os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    with bench_database("live_fanout"):
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
