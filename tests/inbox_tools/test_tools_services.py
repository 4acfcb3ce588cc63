"""The inbox tools' services on the real database: what each returns, what each refuses (by code), and that
one business can neither read nor change another's notes, labels, saved replies or customers."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from chatai.db.models import Dialog, Message
from chatai.db.session import async_session
from chatai.inbox_tools import ToolsError, canned, customers, labels, notes
from chatai.services import inbox as inbox_svc


async def _refused(code: str, fn, **kwargs) -> None:
    async with async_session() as s:
        with pytest.raises(ToolsError) as caught:
            await fn(s, **kwargs)
    assert caught.value.code == code


async def test_note_is_stored_apart_from_messages_with_author_and_time(world):
    async with async_session() as s:
        before = (await s.execute(sa.select(sa.func.count()).select_from(Message))).scalar_one()
        note = await notes.add_dialog_note(s, owner_id=world.owner_a, dialog_id=world.dialog, author_id=world.owner_a,
                                           author_name="anna@shop-a.example", text="  VIP: refund approved  ")
        after = (await s.execute(sa.select(sa.func.count()).select_from(Message))).scalar_one()
        listed = await notes.list_dialog_notes(s, owner_id=world.owner_a, dialog_id=world.dialog)
        transcript = await inbox_svc.get_transcript(s, owner_id=world.owner_a, dialog_id=world.dialog)
    assert after == before  # never a message: nothing that talks to the customer reads notes
    assert [(n.author_name, n.text) for n in listed] == [("anna@shop-a.example", "VIP: refund approved")]
    assert listed[0].created_at == note.created_at
    assert "VIP: refund approved" not in [m.text for m in transcript.messages]


async def test_note_refusals_by_code(world):
    common = dict(author_id=world.owner_b, author_name="boris")
    await _refused("not_found", notes.add_dialog_note, owner_id=world.owner_b, dialog_id=world.dialog, text="x",
                   **common)
    await _refused("empty_text", notes.add_dialog_note, owner_id=world.owner_a, dialog_id=world.dialog, text="  ",
                   **common)
    await _refused("too_long", notes.add_dialog_note, owner_id=world.owner_a, dialog_id=world.dialog,
                   text="x" * 4001, **common)
    async with async_session() as s:
        await notes.add_dialog_note(s, owner_id=world.owner_a, dialog_id=world.dialog, text="mine", **common)
        assert await notes.list_dialog_notes(s, owner_id=world.owner_b, dialog_id=world.dialog) == []


async def test_labels_lifecycle_and_the_list_filter(world):
    async with async_session() as s:
        vip = await labels.create_label(s, owner_id=world.owner_a, name=" VIP  client ", color="amber")
        refund = await labels.create_label(s, owner_id=world.owner_a, name="Refund", color="red")
        await labels.add_label(s, owner_id=world.owner_a, dialog_id=world.dialog, label_id=vip.id)
        await labels.add_label(s, owner_id=world.owner_a, dialog_id=world.dialog, label_id=vip.id)  # idempotent
        await labels.add_label(s, owner_id=world.owner_a, dialog_id=world.stranger_dialog, label_id=refund.id)
        page = await inbox_svc.list_dialogs(s, owner_id=world.owner_a, filters=inbox_svc.InboxFilter(label_id=vip.id))
        assert [r.id for r in page.rows] == [world.dialog]
        renamed = await labels.update_label(s, owner_id=world.owner_a, label_id=vip.id, name="VIP", color="purple")
        assert (renamed.name, renamed.color) == ("VIP", "purple")
        on = await labels.labels_of_dialogs(s, owner_id=world.owner_a,
                                            dialog_ids=[world.dialog, world.stranger_dialog, world.other_dialog])
        assert {d: [x.name for x in rows] for d, rows in on.items()} == {world.dialog: ["VIP"],
                                                                         world.stranger_dialog: ["Refund"]}
        await labels.remove_label(s, owner_id=world.owner_a, dialog_id=world.dialog, label_id=vip.id)
        await labels.delete_label(s, owner_id=world.owner_a, label_id=refund.id)
        assert [x.name for x in await labels.list_labels(s, owner_id=world.owner_a)] == ["VIP"]
        assert await labels.labels_of_dialogs(s, owner_id=world.owner_a,
                                              dialog_ids=[world.dialog, world.stranger_dialog]) == {}
    assert vip.name == "VIP client"  # spaces collapsed


async def test_label_refusals_and_other_business(world):
    async with async_session() as s:
        vip = await labels.create_label(s, owner_id=world.owner_a, name="VIP", color="amber")
    await _refused("label_exists", labels.create_label, owner_id=world.owner_a, name="vip", color="red")
    await _refused("label_bad_color", labels.create_label, owner_id=world.owner_a, name="New",
                   color="red; background:url(x)")
    await _refused("label_empty", labels.create_label, owner_id=world.owner_a, name="   ", color="red")
    await _refused("too_long", labels.create_label, owner_id=world.owner_a, name="x" * 49, color="red")
    # B may not rename, delete, or put A's label on anything, nor label A's dialog with its own.
    await _refused("not_found", labels.update_label, owner_id=world.owner_b, label_id=vip.id, name="Hijack",
                   color="red")
    await _refused("not_found", labels.delete_label, owner_id=world.owner_b, label_id=vip.id)
    await _refused("not_found", labels.add_label, owner_id=world.owner_b, dialog_id=world.b_dialog, label_id=vip.id)
    async with async_session() as s:
        mine_b = await labels.create_label(s, owner_id=world.owner_b, name="VIP", color="red")  # same name: fine
    await _refused("not_found", labels.add_label, owner_id=world.owner_b, dialog_id=world.dialog, label_id=mine_b.id)
    await _refused("not_found", labels.add_label, owner_id=world.owner_a, dialog_id=world.dialog, label_id=mine_b.id)
    async with async_session() as s:
        assert [x.name for x in await labels.list_labels(s, owner_id=world.owner_a)] == ["VIP"]
        page = await inbox_svc.list_dialogs(s, owner_id=world.owner_b, filters=inbox_svc.InboxFilter(label_id=vip.id))
        assert page.rows == []


def test_slash_query_and_insert_keep_the_text_before():
    assert canned.slash_query("/") == ""
    assert canned.slash_query("/ref") == "ref"
    assert canned.slash_query("Hello /del") == "del"
    assert canned.slash_query("see https://x.io/a") is None  # a slash inside a word is not a command
    assert canned.slash_query("done /ref more") is None
    assert canned.insert_reply("/ref", "Refunds take 3 days.") == "Refunds take 3 days."
    assert canned.insert_reply("Hello Ivan! /ref", "Refunds take 3 days.") == "Hello Ivan! Refunds take 3 days."


def test_match_prefers_shortcut_prefixes():
    rows = [canned.CannedRow(uuid.uuid4(), s, b) for s, b in
            [("delivery", "We deliver in 2 days."), ("refund", "Refunds take 3 days."),
             ("hours", "Open 9-18, refund desk")]]
    assert [r.shortcut for r in canned.match_canned(rows, "ref")] == ["refund", "hours"]
    assert [r.shortcut for r in canned.match_canned(rows, "")] == ["delivery", "refund", "hours"]
    assert canned.match_canned(rows, "zzz") == []


async def test_canned_replies_lifecycle_and_refusals(world):
    async with async_session() as s:
        made = await canned.create_canned(s, owner_id=world.owner_a, shortcut="/refund policy",
                                          body="Refunds take 3 days.")
        assert made.shortcut == "refund-policy"
        edited = await canned.update_canned(s, owner_id=world.owner_a, canned_id=made.id, shortcut="refund",
                                            body="Refunds take 5 days.")
        assert (edited.shortcut, edited.body) == ("refund", "Refunds take 5 days.")
        await canned.create_canned(s, owner_id=world.owner_b, shortcut="refund", body="B's own.")
    await _refused("canned_exists", canned.create_canned, owner_id=world.owner_a, shortcut="REFUND", body="x")
    await _refused("canned_empty_shortcut", canned.create_canned, owner_id=world.owner_a, shortcut=" / ", body="x")
    await _refused("empty_text", canned.create_canned, owner_id=world.owner_a, shortcut="x", body=" ")
    await _refused("too_long", canned.create_canned, owner_id=world.owner_a, shortcut="x", body="y" * 4097)
    await _refused("not_found", canned.update_canned, owner_id=world.owner_b, canned_id=made.id, shortcut="z",
                   body="hijack")
    await _refused("not_found", canned.delete_canned, owner_id=world.owner_b, canned_id=made.id)
    async with async_session() as s:
        assert [(r.shortcut, r.body) for r in await canned.list_canned(s, owner_id=world.owner_a)] == [
            ("refund", "Refunds take 5 days.")]
        await canned.delete_canned(s, owner_id=world.owner_a, canned_id=made.id)
        assert await canned.list_canned(s, owner_id=world.owner_a) == []
        assert [r.body for r in await canned.list_canned(s, owner_id=world.owner_b)] == ["B's own."]


async def test_customer_card_joins_the_same_telegram_user_across_bots(world):
    async with async_session() as s:
        await customers.add_customer_note(s, owner_id=world.owner_a, dialog_id=world.other_dialog,
                                          author_id=world.owner_a, author_name="anna@shop-a.example",
                                          text="Prefers calls")
        card = await customers.customer_card(s, owner_id=world.owner_a, dialog_id=world.dialog)
        stranger = await customers.customer_card(s, owner_id=world.owner_a, dialog_id=world.stranger_dialog)
    assert (card.name, card.username, card.language) == ("Ivan Petrov", "ivan_p", "ru")
    assert card.dialog_count == 2 and [d.id for d in card.dialogs] == [world.dialog, world.other_dialog]
    assert [d.bot_username for d in card.dialogs] == ["shop11_bot", "shop12_bot"]
    async with async_session() as s:
        earliest = await s.get(Dialog, world.other_dialog)
    assert card.first_seen == earliest.created_at  # their first dialog with the business, through bot two
    assert [(n.author_name, n.text) for n in card.notes] == [("anna@shop-a.example", "Prefers calls")]
    assert stranger.dialog_count == 1 and stranger.notes == []  # another customer's card has none of Ivan's


async def test_customer_card_refuses_another_business(world):
    await _refused("not_found", customers.customer_card, owner_id=world.owner_b, dialog_id=world.dialog)
    await _refused("not_found", customers.add_customer_note, owner_id=world.owner_b, dialog_id=world.dialog,
                   author_id=world.owner_b, author_name="boris", text="spy")
    async with async_session() as s:
        playground = await customers.customer_card(s, owner_id=world.owner_b, dialog_id=world.b_dialog)
    assert playground.customer_key == f"dialog:{world.b_dialog}" and playground.dialog_count == 1


async def test_customer_card_counts_every_dialog_beyond_those_listed(world, monkeypatch):
    monkeypatch.setattr(customers, "CARD_DIALOGS", 1)
    async with async_session() as s:
        card = await customers.customer_card(s, owner_id=world.owner_a, dialog_id=world.dialog)
        earliest = await s.get(Dialog, world.other_dialog)
    assert [d.id for d in card.dialogs] == [world.dialog]  # the newest only
    assert card.dialog_count == 2 and card.first_seen == earliest.created_at
