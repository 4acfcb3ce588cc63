"""Analytics figures on seeded data: counts, shares, handoffs, median response, days, unanswered groups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from chatai.db.models import Assistant, Dialog, Message, QAPair
from chatai.db.session import async_session
from chatai.services import analytics
from tests.factories import make_tenant

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = analytics.Period(since=NOW - timedelta(days=7), until=NOW + timedelta(seconds=1))


async def _dialog(owner_id, assistant_id, user_id: int, messages: list[tuple], at: datetime) -> uuid.UUID:
    async with async_session() as s:
        d = Dialog(owner_id=owner_id, assistant_id=assistant_id, telegram_user_id=user_id, user_name=f"u{user_id}",
                   last_message_at=at + timedelta(minutes=len(messages)), created_at=at)
        s.add(d)
        await s.flush()
        for i, (role, text, *rest) in enumerate(messages):
            extra = rest[0] if rest else {}
            s.add(Message(dialog_id=d.id, role=role, text=text, created_at=at + timedelta(minutes=i), **extra))
        await s.commit()
        return d.id


async def _seed():
    a = await make_tenant("stats@example.com")
    other = await make_tenant("noise@example.com")
    async with async_session() as s:
        second = Assistant(owner_id=a.owner_id, name="Second")
        s.add(second)
        await s.commit()
    day1, day2 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    await _dialog(a.owner_id, a.assistant_id, 1, [
        ("user", "How much is delivery?"),
        ("assistant", "5 EUR", {"answered_by": "qa", "latency_ms": 100}),
        ("user", "Delivery on Sunday?"),
        ("assistant", "I don't know", {"answered_by": "fallback", "latency_ms": 300}),
    ], day1)
    await _dialog(a.owner_id, a.assistant_id, 2, [
        ("user", "Sunday delivery, do you?"),
        ("assistant", "I don't know", {"answered_by": "fallback", "latency_ms": 500}),
        ("user", "позовите оператора"),
        ("system", "handoff_requested"),
        ("operator", "Yes, we do", {"answered_by": "operator"}),
    ], day2)
    # The same Telegram user again, on the second assistant.
    await _dialog(a.owner_id, second.id, 1, [
        ("user", "Can I pay by card?"),
        ("assistant", "Quote from the FAQ", {"answered_by": "extractive", "latency_ms": 200}),
    ], day2)
    # Outside the period, and another owner's: never counted.
    await _dialog(a.owner_id, a.assistant_id, 3, [("user", "old"), ("assistant", "x", {"answered_by": "llm"})],
                  NOW - timedelta(days=30))
    await _dialog(other.owner_id, other.assistant_id, 9, [("user", "Sunday delivery?"),
                                                          ("assistant", "?", {"answered_by": "fallback"})], day2)
    return a, second


async def test_summary_figures(db):
    a, second = await _seed()
    async with async_session() as s:
        fig = await analytics.summary(s, owner_id=a.owner_id, period=PERIOD)
        one = await analytics.summary(s, owner_id=a.owner_id, period=PERIOD, assistant_id=second.id)
    assert (fig.messages, fig.dialogs, fig.end_users, fig.handoffs) == (10, 3, 2, 1)
    assert (fig.by_qa, fig.by_llm, fig.by_extractive, fig.by_fallback, fig.by_person) == (1, 0, 1, 2, 1)
    assert fig.replies == 5 and round(fig.share(fig.by_fallback), 2) == 0.4
    assert fig.median_first_response_s == 0.25  # median of 100, 200, 300, 500 ms
    assert (one.messages, one.dialogs, one.by_extractive, one.handoffs) == (2, 1, 1, 0)


async def test_per_day_has_every_day_with_zeros(db):
    a, _ = await _seed()
    async with async_session() as s:
        days = await analytics.per_day(s, owner_id=a.owner_id, period=PERIOD)
    assert len(days) == 8 and days[-1].day == PERIOD.until.date()
    by_day = {d.day: (d.messages, d.handoffs) for d in days}
    assert by_day[(NOW - timedelta(days=2)).date()] == (4, 0)
    assert by_day[(NOW - timedelta(days=1)).date()] == (6, 1)
    assert sum(d.messages for d in days) == 10


async def test_unanswered_questions_grouped_by_their_words(db):
    a, _ = await _seed()
    async with async_session() as s:
        groups = await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD)
    # "Delivery on Sunday?" and "Sunday delivery, do you?" stem to the same words; the request for a
    # person is not a question, the message before it is (already counted once).
    assert [(g.count, g.assistant_id) for g in groups] == [(2, a.assistant_id)]
    assert groups[0].question == "Sunday delivery, do you?"


async def test_a_question_answered_before_a_request_for_a_person_is_not_unanswered(db):
    """Issue 23: the walk's Ethiopia question was answered (1150 ₽), then the customer asked for a person."""
    a = await make_tenant("walk@example.com")
    at = NOW - timedelta(hours=3)
    await _dialog(a.owner_id, a.assistant_id, 5, [
        ("user", "Сколько стоит Эфиопия?"),
        ("assistant", "Эфиопия — 1150 ₽ за 250 г.", {"answered_by": "llm"}),
        ("user", "позовите оператора"),
        ("system", "handoff_requested"),
        ("assistant", "Я позвал сотрудника.", {"answered_by": "notice"}),
    ], at)
    # Handed off right after the question, nothing answered it in between: listed.
    await _dialog(a.owner_id, a.assistant_id, 6, [
        ("user", "Можно оплатить криптовалютой?"),
        ("user", "позовите оператора"),
        ("system", "handoff_requested"),
    ], at)
    # "Don't know" and the low-confidence handoff that comes with it: listed once.
    await _dialog(a.owner_id, a.assistant_id, 7, [
        ("user", "Do you roast decaf?"),
        ("system", "handoff_low_confidence"),
        ("assistant", "I'm sorry, I don't know the answer to that.", {"answered_by": "fallback"}),
    ], at)
    async with async_session() as s:
        groups = await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD)
    assert sorted((g.question, g.count) for g in groups) == [
        ("Do you roast decaf?", 1), ("Можно оплатить криптовалютой?", 1)]


async def test_a_question_a_qa_pair_covers_is_cleared(db):
    a, second = await _seed()
    async with async_session() as s:
        before = await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD)
        # Reworded, but naming every word of the question ("sunday", "delivery"): it covers the group...
        s.add(QAPair(assistant_id=a.assistant_id, question="Is there delivery on Sundays and holidays?",
                     answer="Yes, from 10 to 16."))
        # ...which a pair of another assistant, or one missing a word, would not.
        s.add(QAPair(assistant_id=second.id, question="Sunday delivery?", answer="No."))
        await s.commit()
        after = await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD)
    assert [g.question for g in before] == ["Sunday delivery, do you?"] and after == []


async def test_a_qa_pair_missing_a_word_of_the_question_does_not_clear_it(db):
    a, _second = await _seed()
    async with async_session() as s:
        s.add(QAPair(assistant_id=a.assistant_id, question="How much is delivery?", answer="5 EUR"))
        await s.commit()
        groups = await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD)
    assert [(g.question, g.count) for g in groups] == [("Sunday delivery, do you?", 2)]


async def test_the_pair_added_with_one_click_from_the_list_clears_its_question(db):
    """The list's "add as Q&A pair" link prefills the editor with the question; saving it clears the group."""
    import urllib.parse

    from chatai.services import knowledge
    from chatai.web.pages.overview import qa_prefill_href

    a, _second = await _seed()
    async with async_session() as s:
        (group,) = await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(qa_prefill_href(group.assistant_id, group.question)).query)
        assert query["assistant"] == [str(a.assistant_id)]
        await knowledge.add_qa_pair(s, owner_id=a.owner_id, assistant_id=group.assistant_id, question=query["qa"][0],
                                    answer="Yes, on Sundays from 10 to 16.")
        assert await analytics.unanswered(s, owner_id=a.owner_id, period=PERIOD) == []


async def test_per_day_counts_days_on_the_business_clock(db):
    """A message at 22:30 UTC is the next day in Moscow (01:30): the chart's day follows the owner's clock."""
    a = await make_tenant("clock@example.com")
    evening = (NOW - timedelta(days=2)).replace(hour=22, minute=30, second=0)
    await _dialog(a.owner_id, a.assistant_id, 1, [("user", "Open tonight?")], evening)
    period = analytics.Period(since=evening - timedelta(hours=1), until=evening + timedelta(hours=1))
    async with async_session() as s:
        utc = await analytics.per_day(s, owner_id=a.owner_id, period=period)
        moscow = await analytics.per_day(s, owner_id=a.owner_id, period=period, time_zone="Europe/Moscow")
    assert [(d.day, d.messages) for d in utc if d.messages] == [(evening.date(), 1)]
    assert [(d.day, d.messages) for d in moscow if d.messages] == [(evening.date() + timedelta(days=1), 1)]
    assert moscow[-1].day == evening.date() + timedelta(days=1)  # the period's last day, in Moscow
