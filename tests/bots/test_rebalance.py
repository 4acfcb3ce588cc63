"""A runner that joins later gets its share of the bots (chatai/bots/rebalance.py): the first runner up
hands over, in waves, the bots rendezvous hashing gives to the newcomer, once the live set is stable; no
bot is polled by two runners, and a moved bot answers once."""

import asyncio
import uuid

from chatai.bots.ownership import preferred_runner
from chatai.bots.rebalance import Rebalancer
from tests.bots.conftest import FakeBrain, connect, make_tenant, wait_for


def test_hands_over_only_after_the_live_set_is_stable_and_in_waves():
    bots = [uuid.uuid4() for _ in range(40)]
    rebalancer = Rebalancer("a", stable_for=10, share=0.1, cooldown=100)
    assert rebalancer.to_hand_over(bots, ["a"], now=0) == []  # alone
    assert rebalancer.to_hand_over(bots, ["a", "b"], now=1) == []  # "b" just appeared
    assert rebalancer.to_hand_over(bots, ["a", "b"], now=5) == []  # not stable long enough
    first = rebalancer.to_hand_over(bots, ["b", "a"], now=12)  # the order of the live list does not matter
    assert len(first) == 4 and all(preferred_runner(b, ["a", "b"]) == "b" for b in first)
    rest = [b for b in bots if b not in first]
    second = rebalancer.to_hand_over(rest, ["a", "b"], now=13)
    assert len(second) == 3 and not set(second) & set(first)
    # A bot handed over and come back (the other runner could not start it) is not sent again soon.
    assert not set(rebalancer.to_hand_over(first, ["a", "b"], now=20)) & set(first)
    assert set(rebalancer.to_hand_over(first, ["a", "b"], now=200)) <= set(first)
    # A change of the live set starts the wait again.
    assert rebalancer.to_hand_over(rest, ["a", "b", "c"], now=201) == []


async def test_a_runner_started_later_takes_its_share_without_double_polling(db, fake_telegram, runners):
    tenant = await make_tenant()
    # Bot ids are random: connect until the two runners' split gives each some (6 bots all on one side is a
    # 3 % chance, which made this test fail now and then).
    bots = [await connect(fake_telegram, tenant) for _ in range(6)]
    while len({preferred_runner(bot.id, ["runner-a", "runner-b"]) for bot, _ in bots}) < 2:
        bots.append(await connect(fake_telegram, tenant))
    all_ids = {bot.id for bot, _ in bots}
    a = await runners(answer_fn=FakeBrain(), runner_id="runner-a")
    assert await wait_for(lambda: set(a.workers) == all_ids)  # alone: it holds every bot

    b = await runners(answer_fn=FakeBrain(), runner_id="runner-b")
    wanted_b = {bot_id for bot_id in all_ids if preferred_runner(bot_id, ["runner-a", "runner-b"]) == "runner-b"}
    assert wanted_b and wanted_b != all_ids  # each runner has some (ensured above)
    assert await wait_for(lambda: set(b.workers) == wanted_b and set(a.workers) == all_ids - wanted_b)
    await asyncio.sleep(1.0)
    assert set(b.workers) == wanted_b and not set(a.workers) & set(b.workers)  # settled: no bot moves back
    for _, token in bots:
        assert fake_telegram.bot(token).conflicts == 0 and fake_telegram.bot(token).max_pollers == 1

    token_of = {bot.id: token for bot, token in bots}
    moved = token_of[next(iter(wanted_b))]
    fake_telegram.push_text(moved, "still there?", chat_id=77)
    assert await fake_telegram.await_sent(moved, 1)
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(moved)) == 1
