"""Fail-over of bot runners, as deployed (two `python -m chatai bots run` processes, chatai-bots@1 and @2):
20 bots shared through the Redis leases, a stream of customer messages, one runner killed with SIGKILL in
the middle of it. The other runner must take the dead one's bots, and every message must get its answer.
How many seconds the takeover took (the product promises 30 s with the default 15 s lease) is measured by
`python -m bench runner_failover`, which runs this same scenario (bench/runner_failover.py): a machine busy
with other work makes it slower, never wrong, so the test asserts what happened, not how fast.

Duplicates: a runner marks an update answered in the database the moment Telegram accepted the answer
(chatai/bots/writeback.py: one database round trip later). A send Telegram accepted in the instant before
the kill, with its mark not yet committed, is answered again by the runner that takes the bot over:
nothing can make "Telegram accepted" and "the database knows" one atomic step. So a duplicate can only be
an answer the dead runner sent before its death; the test asserts exactly that rather than pretend it
cannot happen.
"""

from __future__ import annotations

from bench.runner_failover import MESSAGES, failover


async def test_sigkilled_runner_bots_move_to_the_other_and_every_message_is_answered(db, fake_telegram, tmp_path):
    outcome = await failover(fake_telegram, tmp_path)

    assert outcome.shared_by == outcome.runner_pids, "bots not shared by both runners before the kill"
    assert outcome.victim_tokens
    # The survivor took every lease of the dead runner and its bots poll again (waited for, not timed).
    assert outcome.takeover_seconds > 0 and outcome.polling_again_seconds >= outcome.takeover_seconds
    assert outcome.lost() == []
    assert outcome.statuses == {"answered": MESSAGES}
    # Every duplicate is an answer the killed runner got accepted before it died, then the survivor's resend.
    victims = set(outcome.victim_tokens)
    for chat in outcome.duplicated():
        (first_token, first_at), *again = outcome.answers[chat]
        assert first_token in victims and first_at <= outcome.killed_at, f"chat {chat} answered twice, not at the kill"
        assert all(at > outcome.killed_at for _, at in again), f"chat {chat}: a second answer before the kill"
    assert len(outcome.duplicated()) <= outcome.victim_sends_before_kill()
