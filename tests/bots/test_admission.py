"""Overload without collapse (issue 24): the runner admits database work before it takes a connection, so
more updates than its pool can serve at once queue in order and are all answered, exactly once, with no
pool timeout. The runner is real (python-telegram-bot against the fake Bot API, the test PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
import sqlalchemy as sa

from chatai.bots.admission import HOT_ROW_WRITERS, RESERVE, URGENT_RUN, Admission, slots_for
from chatai.db.models import TelegramUpdate
from chatai.db.session import async_session
from tests.bots.conftest import PATIENCE, FakeBrain, connect, wait_for
from tests.sql_statements import counted_statements

BOTS = 6
PER_BOT = 12  # 72 updates at once for a pool of 4 connections


async def _update_statuses(bot_ids):
    async with async_session() as s:
        rows = await s.execute(sa.select(TelegramUpdate.status, sa.func.count())
                               .where(TelegramUpdate.bot_id.in_(bot_ids)).group_by(TelegramUpdate.status))
        return dict(rows.all())


async def test_more_updates_than_the_pool_serves_are_all_answered_once(tenant, fake_telegram, runners, caplog):
    caplog.set_level(logging.WARNING)
    bots = [await connect(fake_telegram, tenant) for _ in range(BOTS)]
    # pool 2 + overflow 2, and a checkout that waits at all in the pool fails at once: only admission
    # (waiting before taking a connection) lets this load through.
    runner = await runners(answer_fn=FakeBrain(), db_pool_size=2, db_pool_timeout=0.01)
    assert runner.admission.slots == slots_for(2, 2) == 4 - RESERVE
    await wait_for(lambda: all(w.status == "running" for w in runner.workers.values()) and len(runner.workers) == BOTS)
    for n in range(PER_BOT):
        for i, (_bot, token) in enumerate(bots):
            fake_telegram.push_text(token, f"question {i}-{n}", chat_id=9000 + n)  # a chat per question: in parallel
    total = BOTS * PER_BOT
    await wait_for(lambda: _all_answered([b.id for b, _ in bots], total))

    statuses = await _update_statuses([b.id for b, _ in bots])
    assert statuses == {"answered": total}
    for i, (_bot, token) in enumerate(bots):
        texts = Counter(m["text"].split("\n")[0] for m in fake_telegram.sent_messages(token))
        assert texts == Counter({f"Answer to: question {i}-{n}": 1 for n in range(PER_BOT)})  # each once
    stats = runner.admission.stats()
    assert stats["queued"] > 0, "the load must exceed the pool, or this test proves nothing"
    assert stats["peak_in_use"] <= runner.admission.slots
    problems = [r.getMessage() for r in caplog.records
                if "QueuePool" in r.getMessage() or "not answered yet" in r.getMessage()
                or "unexpected error" in r.getMessage() or "not stored" in r.getMessage()]
    assert problems == []
    assert all(w.status == "running" for w in runner.workers.values())


async def _all_answered(bot_ids, total):
    return (await _update_statuses(bot_ids)).get("answered", 0) == total


async def test_admission_queues_in_order_and_lets_a_task_nest():
    admission = Admission(1)
    order: list[str] = []
    release = asyncio.Event()

    async def hold() -> None:
        assert not admission.holds()
        async with admission.slot():
            assert admission.holds()
            order.append("first in")
            async with admission.slot():  # the same task again: its own slot, not a wait on itself
                order.append("first nested")
            await release.wait()
        order.append("first out")

    async def wait_turn(name: str) -> None:
        async with admission.slot():
            order.append(name)

    first = asyncio.create_task(hold())
    await asyncio.sleep(0)
    second, third = asyncio.create_task(wait_turn("second")), asyncio.create_task(wait_turn("third"))
    for _ in range(3):  # let both reach the semaphore (loop steps, not time)
        await asyncio.sleep(0)
    assert admission.waiting == 2
    assert order == ["first in", "first nested"] and admission.in_use == 1
    release.set()
    await asyncio.gather(first, second, third)
    assert order == ["first in", "first nested", "first out", "second", "third"]
    assert admission.stats() == {"slots": 1, "in_use": 0, "peak_in_use": 1, "waiting": 0, "peak_waiting": 2,
                                 "admitted": 3, "queued": 2}


def test_admission_needs_a_slot():
    with pytest.raises(ValueError):
        Admission(0)
    assert slots_for(1, 0) == 1  # a pool smaller than the reserve still admits one step at a time


def _charges_and_a_store(admission: Admission):
    """Steps for the hot-row tests: `charge(name)` writes the account row and stays inside until `release` is
    set; `store()` is a step of another row. Both note in `inside` when they got in."""
    release = asyncio.Event()
    inside: list[str] = []

    async def charge(name: str) -> None:
        async with admission.turn("account"):
            inside.append(name)
            await release.wait()

    async def store() -> None:
        async with admission.slot():
            inside.append("store")

    return release, inside, charge, store


async def test_steps_on_one_hot_row_hold_one_slot_between_them():
    admission = Admission(2, hot_row_writers=1)
    release, inside, charge, store = _charges_and_a_store(admission)
    charges = [asyncio.create_task(charge(f"charge {n}")) for n in range(5)]
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.wait_for(store(), PATIENCE)  # a slot was free: the charges waiting hold none
    assert inside == ["charge 0", "store"] and admission.stats()["queued"] == 0
    release.set()
    await asyncio.gather(*charges)
    assert inside[2:] == [f"charge {n}" for n in range(1, 5)] and admission.peak_in_use == 2
    assert admission._turns == {}  # nothing kept for a row nobody is writing


async def test_a_few_steps_on_one_hot_row_run_at_once_and_the_rest_hold_no_slot():
    assert HOT_ROW_WRITERS == 3
    admission = Admission(4)
    release, inside, charge, store = _charges_and_a_store(admission)
    charges = [asyncio.create_task(charge(f"charge {n}")) for n in range(8)]
    for _ in range(3):
        await asyncio.sleep(0)
    # Three charges of the account are inside (PostgreSQL queues them on the row, not this event loop); the
    # five waiting hold no slot, so the fourth slot is still free for a store.
    assert inside == ["charge 0", "charge 1", "charge 2"] and admission.in_use == 3
    await asyncio.wait_for(store(), PATIENCE)
    assert admission.stats()["queued"] == 0
    release.set()
    await asyncio.gather(*charges)
    assert inside[4:] == [f"charge {n}" for n in range(3, 8)] and admission.peak_in_use == 4
    assert admission._turns == {}


async def _turns_in_order(admission: Admission, steps: list[tuple[str, bool]]) -> list[str]:
    """Hold the row's only place, queue `steps` (name, urgent) in that order, then let them through one by
    one: the order they got the row in."""
    order: list[str] = []
    hold = asyncio.Event()

    async def holder() -> None:
        async with admission.turn("account"):
            await hold.wait()

    async def step(name: str, urgent: bool) -> None:
        async with admission.turn("account", urgent=urgent):
            order.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = []
    for name, urgent in steps:
        tasks.append(asyncio.create_task(step(name, urgent)))
        await asyncio.sleep(0)  # queued in this order
    hold.set()
    await asyncio.wait_for(asyncio.gather(first, *tasks), PATIENCE)
    return order


async def test_a_reservation_goes_before_the_settles_waiting_on_its_row():
    order = await _turns_in_order(Admission(4, hot_row_writers=1),
                                  [("settle 1", False), ("settle 2", False), ("reserve 1", True), ("reserve 2", True)])
    assert order == ["reserve 1", "reserve 2", "settle 1", "settle 2"]


async def test_a_settle_waits_behind_at_most_urgent_run_reservations():
    steps = [("settle", False)] + [(f"reserve {n}", True) for n in range(URGENT_RUN + 3)]
    order = await _turns_in_order(Admission(4, hot_row_writers=1), steps)
    assert order.index("settle") == URGENT_RUN and len(order) == len(steps)


async def test_a_step_cancelled_while_waiting_for_the_row_leaves_its_place_to_the_next():
    admission = Admission(4, hot_row_writers=1)
    hold = asyncio.Event()
    got: list[str] = []

    async def step(name: str, urgent: bool, wait: asyncio.Event | None = None) -> None:
        async with admission.turn("account", urgent=urgent):
            got.append(name)
            if wait is not None:
                await wait.wait()

    holder = asyncio.create_task(step("holder", False, hold))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(step("cancelled", True))
    later = asyncio.create_task(step("later", False))
    await asyncio.sleep(0)
    cancelled.cancel()
    hold.set()
    await asyncio.wait_for(asyncio.gather(holder, later), PATIENCE)
    assert got == ["holder", "later"] and cancelled.cancelled() and admission._turns == {}
    assert admission.in_use == 0


def test_hot_row_writers_never_exceed_the_slots():
    assert Admission(2).hot_row_writers == 2 and Admission(1, hot_row_writers=0).hot_row_writers == 1


async def test_concurrent_misses_of_an_assistant_read_it_once(tenant, fake_telegram, runners):
    runner = await runners(answer_fn=FakeBrain())
    with counted_statements(runner._engine) as statements:
        runner.assistants.clear()
        infos = await asyncio.gather(*(runner.assistant(tenant.assistant_id) for _ in range(20)))
    reads = [s for s in statements if "assistants.answer_in_groups" in s]
    assert len(reads) == 1 and len({(i.name, i.enabled) for i in infos}) == 1 and infos[0].enabled
