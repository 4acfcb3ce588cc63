"""A billable channel other than Telegram (the shape the website widget plugs in with): its answer is
reserved, delivered and committed once by the pipeline, an undelivered one is released, and the runners'
settle sweep leaves its open charge to it (no Telegram update tells the sweep how it ended)."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

import sqlalchemy as sa

from chatai.conversation import charging, playground, store
from chatai.conversation.channel import Receipt
from chatai.db.models import MICRO, Dialog, utcnow
from chatai.db.money_models import BillingAccount, Charge, Price
from chatai.db.session import async_session
from chatai.services import billing, charges
from tests.bots.conftest import FakeBrain


class WebLikeChannel:
    name, billable = "web", True

    def __init__(self, deliverable: bool = True) -> None:
        self.deliverable, self.shown = deliverable, []
        self.key = f"web:{uuid.uuid4()}"  # the widget: its client message id

    def charge_key(self, turn):
        return self.key

    def language(self, turn):
        return "en"

    def typing(self, turn):
        return contextlib.nullcontext()

    def stream(self, turn):
        return None

    async def deliver(self, turn, reply, language):
        if not self.deliverable:
            return None
        self.shown.append(reply.text)
        return Receipt()

    async def delivered(self, turn, reply, receipt, latency_ms):
        return None

    async def dropped(self, turn):
        return None


async def _ask(tenant, channel: WebLikeChannel, text: str):
    async with async_session() as s:
        dialog = await store.open_dialog(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, channel="web")
        turn = await store.record_turn(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, channel="web",
                                       dialog_id=dialog.id, text=text)
    return await playground.conversation(FakeBrain()).respond(channel, turn, assistant_id=tenant.assistant_id)


async def _funded(owner_id, monkeypatch) -> None:
    monkeypatch.setattr(charging, "_prices", {})
    async with async_session() as s:
        s.add_all([Price(item="answer", price_micros=5 * MICRO), Price(item="qa_answer", price_micros=5 * MICRO)])
        await billing.ensure_account(s, user_id=owner_id)
        await billing.credit(s, account_id=owner_id, amount_micros=20 * MICRO, kind="adjustment", key="fund")
        await s.commit()


async def test_delivered_is_committed_once_undelivered_is_released(tenant, monkeypatch):
    await _funded(tenant.owner_id, monkeypatch)
    delivered = WebLikeChannel()
    outcome = await _ask(tenant, delivered, "When do you deliver?")
    assert outcome.status == "answered" and delivered.shown == ["Answer to: When do you deliver?"]
    lost = WebLikeChannel(deliverable=False)
    assert (await _ask(tenant, lost, "And abroad?")).status == "undeliverable"
    async with async_session() as s:
        by_key = dict((await s.execute(sa.select(Charge.idempotency_key, Charge.status))).all())
        account = await s.get(BillingAccount, tenant.owner_id)
        dialog = (await s.execute(sa.select(Dialog).where(Dialog.channel == "web"))).scalar_one()
    assert by_key == {delivered.key: "committed", lost.key: "released"}
    assert (account.balance_micros, account.reserved_micros, dialog.cost_micros) == (15 * MICRO, 0, 5 * MICRO)


async def test_settle_sweep_leaves_another_channels_open_charge_until_it_is_abandoned(tenant):
    async with async_session() as s:
        await billing.ensure_account(s, user_id=tenant.owner_id)
        await billing.credit(s, account_id=tenant.owner_id, amount_micros=20 * MICRO, kind="adjustment", key="f")
        await s.commit()
    async with async_session() as s:
        assert await charges.reserve(s, account_id=tenant.owner_id, key="web:in-flight",
                                     amount_micros=5 * MICRO) == "reserved"
        await s.commit()
    async with async_session() as s:
        # Older than the sweep's in-flight grace, younger than max_age: still the channel's to settle.
        await s.execute(sa.update(Charge).values(created_at=utcnow() - timedelta(minutes=5)))
        await s.commit()
        assert await charges.settle_stale(s, min_age=timedelta(seconds=10)) == {"committed": 0, "released": 0}
        await s.execute(sa.update(Charge).values(created_at=utcnow() - timedelta(minutes=20)))
        await s.commit()
        assert await charges.settle_stale(s, min_age=timedelta(seconds=10)) == {"committed": 0, "released": 1}
        assert (await s.execute(sa.select(Charge.status))).scalar_one() == "released"
