"""The owner's billing history for people (issue 23): one row per answer (no 0.00 hold row beside it), with
the conversation and question it paid for instead of internal ids; every kind and detail in the owner's
language; the price per answer on the page. The ledger itself is not changed (append-only)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, timedelta

import sqlalchemy as sa

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.db.models import MICRO, Assistant, Dialog, Message, User
from chatai.db.money_models import LedgerEntry
from chatai.db.session import async_session
from chatai.services import accounts, billing, billing_history, charges, promo
from chatai.web.pages.billing import BillingState, ledger_csv
from tests.web.clients import signed_in_root

PRICE, QA_PRICE = 5 * MICRO, 2 * MICRO
QUESTION = "How much is the Ethiopia blend in 250 g packs, and do you deliver to Khamovniki on Sunday mornings?"


async def _seed(email: str, locale: str) -> tuple[str, uuid.UUID, uuid.UUID]:
    """An owner (welcome credit), a top-up through YooKassa, a promo code, two answers (one charged, one not
    delivered so its hold is released) and an admin debit."""
    async with async_session() as s:
        token = await accounts.sign_up(s, email=email, password="quiet violet harbor 42", locale=locale)
        owner = await accounts.user_for_token(s, token)
        admin = User(email=f"admin-{email}", password_hash="-", role="admin")
        s.add(admin)
        await s.flush()
        for item, price in (("answer", PRICE), ("qa_answer", QA_PRICE)):
            await billing.set_price(s, item=item, channel="telegram", price_micros=price, actor_id=admin.id)
        await billing.credit(s, account_id=owner.id, amount_micros=500 * MICRO, kind="topup", key="topup:1",
                             reference="2f1e-payment", reason="yookassa payment")
        await promo.create_promo(s, code="SPRING-COFFEE-2026", bonus_micros=100 * MICRO, max_redemptions=5,
                                 expires_at=None, actor_id=admin.id)
        await s.commit()
        await promo.redeem(s, user_id=owner.id, code="SPRING-COFFEE-2026")
        assistant = Assistant(owner_id=owner.id, name="Coffee")
        s.add(assistant)
        await s.flush()
        dialog = Dialog(assistant_id=assistant.id, owner_id=owner.id, telegram_chat_id=7, user_name="Anna")
        s.add(dialog)
        await s.flush()
        s.add(Message(dialog_id=dialog.id, role="user", text="Hello", telegram_update_id=100))
        s.add(Message(dialog_id=dialog.id, role="user", text=QUESTION, telegram_update_id=101))
        reply = Message(dialog_id=dialog.id, role="assistant", text="1150 ₽, yes", answered_by="llm",
                        telegram_update_id=101)
        s.add(reply)
        await s.commit()
        for update_id in (100, 101):
            assert await charges.reserve(s, account_id=owner.id, key=f"tg:x:{update_id}", amount_micros=PRICE,
                                         dialog_id=dialog.id, update_id=update_id) == "reserved"
        await charges.settle_charge(s, key="tg:x:100", commit=False)  # not delivered: released
        await charges.settle_charge(s, key="tg:x:101", commit=True, item="answer", message_id=reply.id)
        await s.commit()  # each movement in its own transaction, as they happen (one now() per transaction)
        await billing.adjust(s, account_id=owner.id, amount_micros=-10 * MICRO, reason="Double payment returned",
                             actor_id=admin.id)
        await s.commit()
    return token, owner.id, dialog.id


async def test_history_reads_one_row_per_answer_with_its_question_and_dialog(db):
    token, owner_id, dialog_id = await _seed("history@example.com", "en")
    async with async_session() as s:
        rows = await billing_history.history(s, user_id=owner_id)
        stored = (await s.execute(sa.select(LedgerEntry.kind).where(LedgerEntry.account_id == owner_id)
                                  .order_by(LedgerEntry.created_at))).scalars().all()
    # The ledger keeps every movement, holds included; the history shows what moved money, once each.
    assert stored == ["welcome", "topup", "promo", "reserve", "reserve", "release", "commit", "adjustment"]
    assert [(r.kind, r.amount_micros, r.detail, r.words) for r in rows] == [
        ("adjustment", -10 * MICRO, "note", "Double payment returned"),
        ("commit", -PRICE, "answer", "How much is the Ethiopia blend in 250 …"),
        ("promo", 100 * MICRO, "promo", "SPRING-COFFEE-2026"),
        ("topup", 500 * MICRO, "payment", "yookassa"),
        ("welcome", 250 * MICRO, "welcome", ""),
    ]
    assert rows[1].dialog_id == dialog_id and rows[1].balance_after_micros == 845 * MICRO
    assert {r.dialog_id for r in rows if r.kind != "commit"} == {None}


async def test_the_russian_page_names_every_row_in_russian_and_links_the_answer_to_its_dialog(db):
    token, _owner_id, dialog_id = await _seed("istoriya@example.com", "ru")
    state = await (await signed_in_root(token)).get_state(BillingState)
    await BillingState.load_billing.fn(state)
    got = [(e["kind_label"], e["amount"], e["details"], e["link"]) for e in state.entries]
    assert got == [
        ("Корректировка", "−10,00\u00a0₽", "Double payment returned", ""),  # the admin's words, as typed
        ("Ответ", "−5,00\u00a0₽", "Вопрос: How much is the Ethiopia blend in 250 …",
         f"/dashboard/inbox?dialog={dialog_id}"),
        ("Промокод", "100,00\u00a0₽", "Промокод SPRING-COFFEE-2026", ""),
        ("Пополнение", "500,00\u00a0₽", "Оплата картой через ЮKassa", ""),
        ("Приветственный бонус", "250,00\u00a0₽", "Приветственный бонус новому аккаунту", ""),
    ]
    assert state.price_note == ("Один ответ стоит 5,00\u00a0₽. Ответ из ваших пар «вопрос — ответ» стоит "
                                "2,00\u00a0₽.")
    assert state.balance == "835,00\u00a0₽"  # after the admin debit of 10
    leftovers = {"welcome credit", "yookassa payment", "promo code", "commit", "reserve", "topup", "promo"}
    shown = " ".join(f"{e['kind_label']} {e['details']}" for e in state.entries).lower()
    assert not [word for word in leftovers if word in shown.split() or word in shown]


async def test_the_english_page_filters_by_kind_and_exports_the_same_words(db):
    token, _owner_id, dialog_id = await _seed("csv@example.com", "en")
    state = await (await signed_in_root(token)).get_state(BillingState)
    await BillingState.load_billing.fn(state)
    assert state.price_note == "One answer costs ₽5.00. An answer from your Q&A pairs costs ₽2.00."
    await BillingState.set_kind.fn(state, "reserve")  # holds are not an owner's filter: all rows
    assert len(state.entries) == 5
    await BillingState.set_kind.fn(state, "commit")
    assert [(e["kind_label"], e["details"]) for e in state.entries] == [
        ("Answer", "Question: How much is the Ethiopia blend in 250 …")]
    assert "chatai-ledger.csv" in repr(await BillingState.export_csv.fn(state))
    rows = list(csv.reader(io.StringIO(ledger_csv(state.entries))))
    assert rows[1][1:5] == ["Answer", "−₽5.00", "₽845.00", "Question: How much is the Ethiopia blend in 250 …"]
    assert rows[1][5].endswith(f"/dashboard/inbox?dialog={dialog_id}")


def test_first_words_keeps_whole_words_and_marks_the_cut():
    assert billing_history.first_words("Ethiopia, 1150?") == "Ethiopia, 1150?"
    assert billing_history.first_words("one two three", words=2) == "one two …"
    assert billing_history.first_words("x" * 100) == "x" * 80 + " …"
    assert billing_history.first_words("  ") == ""


async def test_history_times_are_on_the_owners_clock_in_the_page_and_the_csv(db):
    token, owner_id, _dialog_id = await _seed("clock@example.com", "ru")
    async with async_session() as s:
        stored = (await s.execute(sa.select(LedgerEntry.created_at).where(
            LedgerEntry.account_id == owner_id, LedgerEntry.kind == "welcome"))).scalar_one()
    state = await (await signed_in_root(token)).get_state(BillingState)
    await BillingState.load_billing.fn(state)
    welcome = next(e for e in state.entries if e["kind"] == "welcome")
    # A Russian owner's default clock is Moscow (UTC+3 all year), not the stored UTC.
    moscow = (stored.astimezone(UTC) + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    assert welcome["date"] == moscow != stored.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert list(csv.reader(io.StringIO(ledger_csv([welcome]))))[1][:2] == [moscow, "Приветственный бонус"]
