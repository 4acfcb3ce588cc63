"""Telegram set-up (getMe, setWebhook / deleteWebhook) done once per bot and recorded (chatai/bots/bot_setup.py):
a restarted runner does only what was not done, a hand-over in waves and a takeover after a kill cost no
set-up call, and the calls that must be made are paced (chatai/bots/pacing.RatePacer)."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from chatai.bots import bot_setup
from chatai.bots.ownership import preferred_runner
from chatai.bots.pacing import RatePacer
from chatai.bots.webhook import SECRET_HEADER, webhook_routes
from chatai.db.models import TelegramUpdate
from chatai.db.session import async_session
from chatai.security import decrypt_secret
from tests.bots.conftest import FakeBrain, bot_row, connect, make_tenant, wait_for
from tests.fakes.telegram_updates import text_update

SETUP_METHODS = ("getMe", "setWebhook", "deleteWebhook")


@pytest.fixture
def public_url(monkeypatch):
    from chatai.settings import get_settings

    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _setup_calls(fake, tokens) -> dict[str, int]:
    """Set-up calls made so far, per method, over these bots (getMe includes the one connecting made)."""
    return {m: sum(len(fake.calls(t, m)) for t in tokens) for m in SETUP_METHODS}


def test_pacer_reserves_one_turn_per_interval_in_arrival_order():
    now = [100.0]
    pacer = RatePacer(4, clock=lambda: now[0])
    assert [pacer.reserve() for _ in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    now[0] = 110.0  # long after the last reserved turn: the next caller goes at once
    assert pacer.reserve() == 0.0 and pacer.granted == 6
    unpaced = RatePacer(0)
    assert [unpaced.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_digest_changes_with_whatever_telegram_would_hold_differently():
    base = dict(token="1:a", mode="webhook", url="https://x/telegram/webhook/1", secret="s")
    digest = bot_setup.wanted(**base)
    assert digest == bot_setup.wanted(**base)
    for change in (dict(token="1:b"), dict(url="https://y/telegram/webhook/1"), dict(secret="t"),
                   dict(mode="polling")):
        assert bot_setup.wanted(**{**base, **change}) != digest
    assert "1:a" not in digest and "s" != digest


async def test_a_restarted_runner_sets_up_only_the_bots_not_done(tenant, fake_telegram, runners, public_url):
    bots = [await connect(fake_telegram, tenant) for _ in range(5)]
    tokens = [token for _, token in bots]
    # Telegram refuses the first setWebhook of two bots for ten minutes: the runner is killed with three set up.
    for token in tokens[3:]:
        fake_telegram.fail_next(token, "setWebhook", 429, retry_after=600)
    before = _setup_calls(fake_telegram, tokens)
    first = await runners(answer_fn=FakeBrain(), mode="webhook", runner_id="first")
    assert await wait_for(lambda: all(fake_telegram.bot(t).webhook_url for t in tokens[:3])
                          and all(fake_telegram.calls(t, "setWebhook") for t in tokens[3:]))
    ids = [b.id for b, _ in bots]
    assert await wait_for(lambda: _recorded_count(first, ids, 3))  # recorded once Telegram accepted it
    await first.abort()  # killed: nothing released, nothing cleaned up

    second = await runners(answer_fn=FakeBrain(), mode="webhook", runner_id="second")
    assert await wait_for(lambda: set(second.workers) == {b.id for b, _ in bots}
                          and all(w.status == "running" for w in second.workers.values()))
    after = _setup_calls(fake_telegram, tokens)
    # Each bot was set up exactly once: the three done before the kill were not asked again...
    for token in tokens[:3]:
        assert len(fake_telegram.calls(token, "setWebhook")) == 1
        assert len(fake_telegram.calls(token, "getMe")) == 2  # connecting, then the first runner
    # ...the two refused ones were, by the second runner (the refused attempt, then the one that worked).
    for token in tokens[3:]:
        assert len(fake_telegram.calls(token, "setWebhook")) == 2 and fake_telegram.bot(token).webhook_url
    assert after["setWebhook"] - before["setWebhook"] == 3 + 2 * 2
    assert after["deleteWebhook"] == before["deleteWebhook"] == 0
    # Every bot's set-up is recorded now: a third start would make no call at all.
    assert len(await second.setup_records.recorded([b.id for b, _ in bots])) == 5


async def test_a_paused_webhook_bot_forgets_its_setup_and_is_set_up_again_on_resume(tenant, fake_telegram,
                                                                                    runners, public_url):
    from chatai.services.bots import pause_bot, resume_bot

    bot, token = await connect(fake_telegram, tenant)
    runner = await runners(answer_fn=FakeBrain(), mode="webhook")
    assert await wait_for(lambda: fake_telegram.bot(token).webhook_url)
    assert await wait_for(lambda: runner.setup_records.recorded([bot.id]))
    async with async_session() as s:
        await pause_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert await wait_for(lambda: not fake_telegram.bot(token).webhook_url)  # deleted: Telegram keeps the updates
    assert await runner.setup_records.recorded([bot.id]) == {}
    async with async_session() as s:
        await resume_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    assert await wait_for(lambda: fake_telegram.bot(token).webhook_url)
    assert len(fake_telegram.calls(token, "setWebhook")) == 2


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_hand_over_in_waves_makes_no_setup_call(db, fake_telegram, runners, public_url, mode):
    tenant = await make_tenant()
    bots = [await connect(fake_telegram, tenant) for _ in range(16)]
    while len({preferred_runner(b.id, ["runner-a", "runner-b"]) for b, _ in bots}) < 2:
        bots.append(await connect(fake_telegram, tenant))
    tokens = [token for _, token in bots]
    all_ids = {b.id for b, _ in bots}
    a = await runners(answer_fn=FakeBrain(), mode=mode, runner_id="runner-a")
    assert await wait_for(lambda: set(a.workers) == all_ids and all(w.status == "running"
                                                                     for w in a.workers.values()))
    assert await wait_for(lambda: len(fake_telegram.calls(tokens[-1], "getMe")) == 2)
    set_up = _setup_calls(fake_telegram, tokens)
    # One set-up per bot by runner a: getMe (plus connecting's), and the webhook set or deleted.
    assert set_up["getMe"] == 2 * len(bots)
    assert set_up["setWebhook" if mode == "webhook" else "deleteWebhook"] == len(bots)

    waves: list[tuple[int, int, dict[str, int]]] = []  # (bots handed over, bots held then, set-up calls so far)
    choose = a._rebalancer.to_hand_over

    def recorded_waves(mine, live, now):
        chosen = choose(mine, live, now)
        if chosen:
            waves.append((len(chosen), len(mine), _setup_calls(fake_telegram, tokens)))
        return chosen

    a._rebalancer.to_hand_over = recorded_waves
    b = await runners(answer_fn=FakeBrain(), mode=mode, runner_id="runner-b")
    wanted_b = {i for i in all_ids if preferred_runner(i, ["runner-a", "runner-b"]) == "runner-b"}
    assert await wait_for(lambda: set(b.workers) == wanted_b and set(a.workers) == all_ids - wanted_b
                          and all(w.status == "running" for w in b.workers.values()))
    # In waves of at most a tenth of a's bots (at least one), never all at once...
    assert sum(n for n, _, _ in waves) == len(wanted_b)
    assert all(n <= max(1, int(held * 0.1)) for n, held, _ in waves)
    assert len(waves) >= 2 or len(wanted_b) == 1
    # ...and not one getMe, setWebhook or deleteWebhook in any wave, nor by the runner taking the bots.
    assert all(calls == set_up for _, _, calls in waves)
    assert _setup_calls(fake_telegram, tokens) == set_up
    moved = next(token for bot, token in bots if bot.id in wanted_b)
    if mode == "polling":
        fake_telegram.push_text(moved, "still there?", chat_id=91)
        assert await fake_telegram.await_sent(moved, 1)


async def test_killed_webhook_runner_every_stored_update_answered_once_without_setup_calls(
        db, fake_telegram, runners, public_url):
    tenant = await make_tenant()
    bots = [await connect(fake_telegram, tenant) for _ in range(6)]
    while len({preferred_runner(b.id, ["runner-a", "runner-b"]) for b, _ in bots}) < 2:
        bots.append(await connect(fake_telegram, tenant))
    tokens = {b.id: token for b, token in bots}
    a = await runners(answer_fn=FakeBrain(), mode="webhook", runner_id="runner-a", lease_ttl=3.0)
    b = await runners(answer_fn=FakeBrain(), mode="webhook", runner_id="runner-b", lease_ttl=3.0)
    assert await wait_for(lambda: set(a.workers) | set(b.workers) == set(tokens) and a.workers and b.workers
                          and all(w.status == "running" for r in (a, b) for w in r.workers.values()))
    set_up = _setup_calls(fake_telegram, tokens.values())
    victims = set(a.workers)
    secrets = {b.id: decrypt_secret((await bot_row(b.id)).webhook_secret) for b, _ in bots}

    app = Starlette(routes=webhook_routes())
    posted = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        async def deliver(round_no: int) -> None:
            nonlocal posted
            for n, bot_id in enumerate(tokens):
                update = text_update(f"question {round_no}-{n}", chat_id=5000 + round_no * 100 + n,
                                     update_id=10_000 + round_no * 100 + n)
                response = await client.post(f"/telegram/webhook/{bot_id}", json=update,
                                             headers={SECRET_HEADER: secrets[bot_id]})
                assert response.status_code == 200
                posted += 1

        await deliver(0)
        await a.abort()  # killed -9 while updates arrive: the next deliveries find their bots' runner dead
        for round_no in (1, 2):
            await deliver(round_no)
        assert await wait_for(lambda: set(b.workers) == set(tokens))  # the survivor took the dead one's bots

    async def statuses():
        async with async_session() as s:
            rows = (await s.execute(sa.select(TelegramUpdate.status, sa.func.count())
                                    .where(TelegramUpdate.bot_id.in_(list(tokens))).group_by(TelegramUpdate.status)))
            return dict(rows.all())

    assert await wait_for(lambda: _all_answered(statuses, posted))
    answers: dict[int, int] = {}
    for token in tokens.values():
        for message in fake_telegram.sent_messages(token):
            answers[message["chat_id"]] = answers.get(message["chat_id"], 0) + 1
    assert len(answers) == posted
    # After the kill every update was answered exactly once (a second answer is possible only for a send the
    # dead runner had accepted in its last instant: round 0, of its own bots).
    for chat_id, count in answers.items():
        if count > 1:
            round_no, n = divmod(chat_id - 5000, 100)
            assert round_no == 0 and list(tokens)[n] in victims, f"chat {chat_id} answered {count} times"
    assert _setup_calls(fake_telegram, tokens.values()) == set_up  # the takeover set nothing up again


async def _all_answered(statuses, posted: int) -> bool:
    return (await statuses()).get("answered", 0) == posted


async def _recorded_count(runner, ids, count: int) -> bool:
    return len(await runner.setup_records.recorded(ids)) == count


@pytest.mark.parametrize("yields", [0, 1, 2])
async def test_a_runner_stopping_as_a_bot_comes_up_stops(tenant, fake_telegram, runners, public_url, yields):
    """A bot coming up wakes two of the runner's loops (the sweep and the heap keeper); a stop in that instant
    was lost by asyncio.wait_for on Python 3.11 and the stop waited forever (CI hung here)."""
    import asyncio

    bot, token = await connect(fake_telegram, tenant)
    # Reconciling only when woken: between wakes the loop waits on the event the next bot_up() sets.
    runner = await runners(answer_fn=FakeBrain(), mode="webhook", reconcile_interval=60)
    assert await wait_for(lambda: runner.workers.get(bot.id) and runner.workers[bot.id].status == "running")
    assert await wait_for(lambda: not runner._sweep_wanted.is_set())  # the sweep the bot's start asked for began
    await asyncio.sleep(1.0)  # ...and ended (its own pause is 0.5 s): the loop waits again
    runner.bot_up()
    for _ in range(yields):
        await asyncio.sleep(0)
    async with asyncio.timeout(60):  # a lost cancellation never ends: fail here instead of hanging the run
        await runner.stop()
    assert all(task.done() for task in runner._loops)
