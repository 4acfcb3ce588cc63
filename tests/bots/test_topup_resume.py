"""Issue 23: a customer's question at zero balance is answered after the top-up (once, charged, through the
runner's pipeline), also when two top-ups land together or the runner restarts; when the assistant still
cannot answer, the dialog waits for a person and the owner is told. The top-up is recorded by a separate
session (as the web process does); the runner only learns of it through Redis or its sweep."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from chatai.conversation import charging
from chatai.db.models import MICRO, Assistant, Dialog, Message, Notification
from chatai.db.money_models import BillingAccount, Charge, Price
from chatai.db.session import async_session
from chatai.rag.answer import TEXTS, dont_know
from chatai.services import billing, topup_resume
from tests.bots.conftest import PATIENCE, FakeBrain, connect, wait_for

PRICE = 5 * MICRO
QUESTION = "How much is delivery to Ethiopia?"


@pytest.fixture
async def broke(tenant, monkeypatch):
    """Priced answers, an account with no money."""
    monkeypatch.setattr(charging, "_prices", {})
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=PRICE), Price(item="qa_answer", price_micros=PRICE)])
        await billing.ensure_account(s, user_id=tenant.owner_id)
        await s.commit()
    return tenant


async def _top_up(owner_id, amount: int, key: str) -> None:
    async with async_session() as s:
        await billing.credit(s, account_id=owner_id, amount_micros=amount, kind="topup", key=key)
        await s.commit()


async def _state(owner_id) -> tuple[str, list[str], int, list[str]]:
    async with async_session() as s:
        dialog = (await s.execute(sa.select(Dialog))).scalar_one()
        notices = (await s.execute(sa.select(Message.text).where(Message.role == "system")
                                   .order_by(Message.created_at))).scalars().all()
        balance = (await s.get(BillingAccount, owner_id, populate_existing=True)).balance_micros
        charges = (await s.execute(sa.select(Charge.status))).scalars().all()
        _n, problems = await billing.check_accounts(s)
    assert problems == []
    return dialog.status, list(notices), balance, list(charges)


async def _refused(fake_telegram, token, runners, brain, *, chat_id: int = 41):
    """The customer asks at zero balance: the polite notice, the dialog waits, nothing generated."""
    fake_telegram.push_text(token, QUESTION, chat_id=chat_id)
    (notice,) = await fake_telegram.await_sent(token, 1)
    assert "temporarily unavailable" in notice["text"] and brain.calls == []


async def _charged_once(owner_id):
    state = await _state(owner_id)
    return state if state[3] == ["committed"] else None


async def test_the_waiting_question_is_answered_once_and_charged_after_a_top_up(broke, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)

    await _top_up(broke.owner_id, 100 * MICRO, "pay:1")
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"].startswith(f"Answer to: {QUESTION}")
    status, notices, balance, charges = await wait_for(lambda: _charged_once(broke.owner_id))
    assert (status, notices, balance) == ("ai", ["balance_zero", "balance_resumed"], 95 * MICRO)
    assert [c["question"] for c in brain.calls] == [QUESTION]
    async with async_session() as s:
        alert = (await s.execute(sa.select(Notification.read_at).where(Notification.kind == "balance_zero"))).scalar()
    assert alert is not None  # the zero-balance alert is settled
    await asyncio.sleep(0.5)  # nothing more arrives: once
    assert len(fake_telegram.sent_messages(token)) == 2 and len(brain.calls) == 1


async def test_two_top_ups_landing_together_answer_the_question_once(broke, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)

    await asyncio.gather(_top_up(broke.owner_id, 50 * MICRO, "pay:a"), _top_up(broke.owner_id, 50 * MICRO, "pay:b"))
    await fake_telegram.await_sent(token, 2)
    status, notices, balance, charges = await wait_for(lambda: _charged_once(broke.owner_id))
    assert (status, notices.count("balance_resumed"), balance) == ("ai", 1, 95 * MICRO)
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(token)) == 2 and len(brain.calls) == 1


async def test_a_top_up_while_no_runner_runs_is_answered_when_one_starts(broke, fake_telegram, runners):
    """The nudge reaches nobody (and a restarted runner remembers nothing): the sweep claims it."""
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    first = await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)
    await first.stop()

    await _top_up(broke.owner_id, 100 * MICRO, "pay:2")
    async with async_session() as s:
        waiting = (await s.execute(sa.text("SELECT count(*) FROM telegram_updates WHERE status = :s"),
                                   {"s": topup_resume.RESUMING})).scalar()
    assert waiting == 1  # owed, durably, until a runner claims it
    await runners(answer_fn=brain)
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"].startswith(f"Answer to: {QUESTION}")
    assert (await wait_for(lambda: _charged_once(broke.owner_id)))[2] == 95 * MICRO
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(token)) == 2


async def test_a_top_up_too_small_for_one_answer_leaves_the_dialog_with_a_person(broke, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)
    await _top_up(broke.owner_id, 1 * MICRO, "pay:3")
    status, notices, _balance, _charges = await _state(broke.owner_id)
    assert (status, notices) == ("waiting", ["balance_zero"])  # a second refusal notice would follow otherwise


async def test_an_admin_credit_resumes_too_and_a_debit_does_not(broke, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)
    async with async_session() as s:
        await billing.adjust(s, account_id=broke.owner_id, amount_micros=20 * MICRO, reason="goodwill", actor_id=None)
        await s.commit()
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"].startswith(f"Answer to: {QUESTION}")


async def test_a_promo_code_resumes_too(broke, fake_telegram, runners):
    from chatai.services import promo

    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)
    async with async_session() as s:
        code = await promo.create_promo(s, code="", bonus_micros=30 * MICRO, max_redemptions=5, expires_at=None,
                                        actor_id=broke.owner_id)
        await s.commit()
        assert await promo.redeem(s, user_id=broke.owner_id, code=code.code) == 30 * MICRO
        await s.commit()
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"].startswith(f"Answer to: {QUESTION}")


async def test_when_the_assistant_still_cannot_answer_a_person_is_owed_and_the_owner_told(broke, fake_telegram,
                                                                                        runners):
    """Handoff on low confidence is switched off, yet the customer was promised a person at zero balance."""
    async with async_session() as s:
        assistant = await s.get(Assistant, broke.assistant_id)
        assistant.handoff_on_low_confidence = False
        await s.commit()
    calls = []

    async def does_not_know(*, question, **_kw):
        calls.append(question)
        return dont_know("en")

    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=does_not_know)
    fake_telegram.push_text(token, QUESTION, chat_id=43)
    await fake_telegram.await_sent(token, 1)
    await _top_up(broke.owner_id, 100 * MICRO, "pay:4")
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"] == TEXTS["en"]["dont_know_person"]  # one message, and the promise is kept

    async def settled():
        state = await _state(broke.owner_id)
        return state if state[3] == ["released"] else None

    status, notices, balance, _charges = await wait_for(settled)
    assert (status, balance, calls) == ("waiting", 100 * MICRO, [QUESTION])  # never charged for "don't know"
    assert notices == ["balance_zero", "balance_resumed", "handoff_low_confidence"]
    async with async_session() as s:
        told = (await s.execute(sa.select(Notification.text).where(Notification.kind == "handoff_waiting"))
                ).scalars().all()
    assert told == [topup_resume.OWNER_TEXT["en"]]


async def test_the_redis_nudge_alone_brings_the_answer(broke, fake_telegram, runners):
    """The runner's next sweep is far beyond the test's patience: only the nudge published after the top-up's
    commit can bring the answer, as for a runner in another process."""
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain, reconcile_interval=PATIENCE * 10)
    await _refused(fake_telegram, token, runners, brain)
    await _top_up(broke.owner_id, 100 * MICRO, "pay:5")
    sent = await fake_telegram.await_sent(token, 2)
    assert sent[1]["text"].startswith(f"Answer to: {QUESTION}")


async def test_a_rolled_back_top_up_hands_nothing_back(broke, fake_telegram, runners):
    brain = FakeBrain()
    bot, token = await connect(fake_telegram, broke)
    await runners(answer_fn=brain)
    await _refused(fake_telegram, token, runners, brain)
    async with async_session() as s:
        await billing.credit(s, account_id=broke.owner_id, amount_micros=100 * MICRO, kind="topup", key="pay:6")
        await s.rollback()
    await asyncio.sleep(0.5)
    status, notices, balance, _charges = await _state(broke.owner_id)
    assert (status, notices, balance, len(fake_telegram.sent_messages(token))) == ("waiting", ["balance_zero"], 0, 1)


async def test_two_runners_claiming_at_once_get_a_question_once(broke, fake_telegram):
    from chatai.db.session import get_async_engine

    bot, _token = await connect(fake_telegram, broke)
    async with async_session() as s:
        await s.execute(sa.text("INSERT INTO telegram_updates (bot_id, update_id, status, received_at) "
                                "VALUES (:b, 77, :s, now())"), {"b": bot.id, "s": topup_resume.RESUMING})
        await s.commit()

    async def claim():
        async with get_async_engine().connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await topup_resume.claim(conn, bot_ids=[bot.id])

    first, second = await asyncio.gather(claim(), claim())
    assert sorted([first, second], key=len) == [{}, {bot.id: [77]}]
