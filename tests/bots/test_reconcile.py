"""The periodic reconcile is incremental (a digest of the bots table; slim rows only when it changed; full
rows only for the bots acted on) and is still the safety net for commands that never reached the runner."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from chatai.bots import pacing, queries, status_writer
from chatai.db.models import Bot
from chatai.db.session import async_session
from chatai.services import bots as bots_service
from chatai.services.bots import pause_bot, replace_token, resume_bot
from tests.bots.conftest import FakeBrain, bot_row, connect, make_tenant, wait_for, worker_stopped


@pytest.fixture
def lost_commands(monkeypatch):
    """Services still write the database, but their commands never reach a runner (Redis hiccup)."""

    async def dropped(action, bot_id):
        return None

    monkeypatch.setattr(bots_service, "publish_command", dropped)


class Spy:
    """Counts calls of a queries function (and the ids asked for, for `records`)."""

    def __init__(self, monkeypatch, name):
        self.calls = []
        original = getattr(queries, name)

        async def spy(conn, *args, **kw):
            self.calls.append(list(args[0]) if args else None)
            return await original(conn, *args, **kw)

        monkeypatch.setattr(queries, name, spy)


async def _settled(runner, bot_ids, monkeypatch):
    """Every bot running here and its status written (a status write changes the digest once), then rounds
    enough that one began after the write and compared (counted, not timed: a busy machine runs fewer)."""
    await wait_for(lambda: all(runner.workers.get(b) and runner.workers[b].status == "running" for b in bot_ids))
    assert await wait_for(lambda: _all_status(bot_ids, "running"))
    rounds = Spy(monkeypatch, "digest")
    # Round 1 may have read the digest before the write, round 2 read it after and compared; round 3 began
    # after round 2 had finished.
    assert await wait_for(lambda: len(rounds.calls) >= 3)


async def _all_status(bot_ids, status):
    return all([(await bot_row(b)).status == status for b in bot_ids])


async def test_nothing_changed_costs_a_digest_only(tenant, fake_telegram, runners, monkeypatch):
    bots = [await connect(fake_telegram, tenant) for _ in range(3)]
    runner = await runners(answer_fn=FakeBrain())
    await _settled(runner, [b.id for b, _ in bots], monkeypatch)
    digests, states, records = Spy(monkeypatch, "digest"), Spy(monkeypatch, "states"), Spy(monkeypatch, "records")
    assert await wait_for(lambda: len(digests.calls) >= 3)  # three rounds, however long they took
    assert states.calls == [] and records.calls == []

    # One bot paused behind the runner's back: compared once, and only that bot loaded in full.
    changed = bots[1][0].id
    async with async_session() as s:
        await s.execute(sa.update(Bot).where(Bot.id == changed).values(desired_state="paused", status="paused"))
        await s.commit()
    assert await wait_for(lambda: changed not in runner.workers)
    assert len(states.calls) >= 1 and records.calls and all(ids == [changed] for ids in records.calls)
    assert set(runner.workers) == {bots[0][0].id, bots[2][0].id}


async def test_lost_pause_resume_and_token_change_still_applied(tenant, fake_telegram, runners, lost_commands,
                                                                monkeypatch):
    bot, token = await connect(fake_telegram, tenant)
    runner = await runners(answer_fn=FakeBrain())
    await _settled(runner, [bot.id], monkeypatch)
    worker = runner.workers[bot.id]

    async with async_session() as s:
        await pause_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert await wait_for(lambda: bot.id not in runner.workers)
    assert await wait_for(lambda: worker_stopped(worker))  # its last poll is over, however slowly it went
    await asyncio.sleep(0.3)
    polls = len(fake_telegram.calls(token, "getUpdates"))
    await asyncio.sleep(1.2)
    assert len(fake_telegram.calls(token, "getUpdates")) == polls

    async with async_session() as s:
        await resume_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert await wait_for(lambda: _all_status([bot.id], "running"))

    new_token = token.split(":")[0] + ":DD" + "q" * 33
    fake_telegram.add_bot(new_token, "same_bot")
    async with async_session() as s:
        await replace_token(s, owner_id=tenant.owner_id, bot_id=bot.id, token=new_token)
    assert await wait_for(lambda: fake_telegram.calls(new_token, "getUpdates"))
    fake_telegram.push_text(new_token, "still answered?", chat_id=61)
    assert await fake_telegram.await_sent(new_token, 1)


async def test_change_made_during_a_comparison_is_caught_next_round(tenant, fake_telegram, runners, monkeypatch):
    """The digest is read before the rows: a change landing right after the rows were read leaves a digest
    that no longer matches, so the next round compares again."""
    bot, _token = await connect(fake_telegram, tenant)
    runner = await runners(answer_fn=FakeBrain())
    await _settled(runner, [bot.id], monkeypatch)
    original = queries.states
    armed = True
    kept_by_that_round: list[bool] = []

    async def states_then_pause(conn):
        nonlocal armed
        if not armed and not kept_by_that_round:  # the next comparison starts: what did the last one do?
            kept_by_that_round.append(bot.id in runner.workers)
        rows = await original(conn)
        if armed:
            armed = False
            async with async_session() as s:
                await s.execute(sa.update(Bot).where(Bot.id == bot.id).values(desired_state="paused"))
                await s.commit()
        return rows

    monkeypatch.setattr(queries, "states", states_then_pause)
    async with async_session() as s:  # something else changes, so the next round compares
        await s.execute(sa.update(Bot).where(Bot.id == bot.id).values(status="starting"))
        await s.commit()
    assert await wait_for(lambda: not armed)
    assert await wait_for(lambda: kept_by_that_round)
    assert kept_by_that_round == [True]  # that comparison saw the bot still wanted...
    assert await wait_for(lambda: bot.id not in runner.workers)  # ...and the next one caught the change


async def test_periodic_work_in_slices_keeps_every_bot(db, fake_telegram, runners, monkeypatch):
    """Starts, lease renewals and poll marks done a few bots at a time still cover every bot."""
    from chatai.bots import ownership

    monkeypatch.setattr(pacing, "SLICE", 2)
    monkeypatch.setattr(status_writer, "POLL_MARK_SLICE", 2)
    monkeypatch.setattr(ownership, "CHUNK", 2)
    tenant = await make_tenant()
    bots = [await connect(fake_telegram, tenant) for _ in range(5)]
    runner = await runners(answer_fn=FakeBrain())
    ids = {b.id for b, _ in bots}
    assert await wait_for(lambda: set(runner.workers) == ids)
    renewed: list[list] = []
    real_renew = runner._leases.renew

    async def counted_renew(part):
        renewed.append(list(part))
        return await real_renew(part)

    monkeypatch.setattr(runner._leases, "renew", counted_renew)
    # Three renewal rounds (counted, not slept for), each in slices of 2 that together cover every bot.
    assert await wait_for(lambda: sum(1 for part in renewed if part) >= 3 * 3)
    assert all(len(part) <= 2 for part in renewed)
    assert all(sum(bot_id in part for part in renewed) >= 3 for bot_id in ids)
    assert set(runner.workers) == ids
    for bot, token in bots:
        row = await bot_row(bot.id)
        assert row.last_poll_at is not None and row.runner_id == runner.runner_id
        assert fake_telegram.bot(token).max_pollers == 1 and fake_telegram.bot(token).conflicts == 0
