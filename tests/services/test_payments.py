"""YooKassa top-ups against the stand-in server, through the real webhook route: success, cancellation,
duplicate and concurrent notifications, forged notifications (pending payment, other amount), and the
IP allow-list. The balance only ever moves by what the provider's API confirms."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
import sqlalchemy as sa

from chatai.db.models import MICRO, User
from chatai.db.money_models import BillingAccount, TopUp
from chatai.db.session import async_session
from chatai.services import accounts, billing
from chatai.services.billing import BillingError
from chatai.services.payments import get_provider, start_topup
from tests.fakes import yookassa_server

fake_yookassa = yookassa_server.fake_yookassa  # the fixture, for the tests of this module


@pytest.fixture
async def owner(db):
    async with async_session() as s:
        user = User(email="payer@example.com", password_hash="-")
        s.add(user)
        await s.flush()
        await billing.ensure_account(s, user_id=user.id)
        await s.commit()
        return user.id


def _client() -> httpx.AsyncClient:
    from starlette.applications import Starlette

    from chatai.web.payments_api import payment_routes

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=payment_routes())),
                             base_url="http://test")


async def _notify(fake, payment_id: str, event: str = "payment.succeeded") -> httpx.Response:
    async with _client() as client:
        return await client.post("/payments/yookassa/webhook", json=fake.notification(payment_id, event))


async def _balance(owner) -> int:
    async with async_session() as s:
        return (await s.get(BillingAccount, owner)).balance_micros


async def _topup(owner, amount: int = 500) -> tuple[str, str]:
    async with async_session() as s:
        url = await start_topup(s, user_id=owner, amount_micros=amount * MICRO, return_url="http://app/back",
                                provider=get_provider())
    return url, url.rsplit("/", 1)[1]


async def test_payment_is_created_as_documented(owner, fake_yookassa):
    url, payment_id = await _topup(owner)
    assert url == f"{fake_yookassa.url}/confirm/{payment_id}"
    request = fake_yookassa.requests[-1]
    expected_auth = "Basic " + base64.b64encode(b"123456:test_secret_key_not_real").decode()
    assert request["headers"]["Authorization"] == expected_auth
    body = request["body"]
    assert body["amount"] == {"value": "500.00", "currency": "RUB"} and body["capture"] is True
    assert body["confirmation"] == {"type": "redirect", "return_url": "http://app/back"}
    assert body["receipt"]["items"][0]["amount"] == {"value": "500.00", "currency": "RUB"}
    async with async_session() as s:
        topup = (await s.execute(sa.select(TopUp))).scalar_one()
    assert request["headers"]["Idempotence-Key"] == str(topup.id) == body["metadata"]["topup_id"]
    assert topup.status == "pending" and await _balance(owner) == 0  # nothing credited before paying
    assert body["receipt"]["items"][0]["description"] == body["description"] == "ChatAI balance top-up, ₽500.00"


async def test_a_russian_owners_receipt_names_the_purchase_in_russian(fake_yookassa, db):
    async with async_session() as s:
        token = await accounts.sign_up(s, email="kofe@example.com", password="quiet violet harbor 42", locale="ru")
        russian = (await accounts.user_for_token(s, token)).id
    await _topup(russian, 500)
    body = fake_yookassa.requests[-1]["body"]
    assert body["receipt"]["items"][0]["description"] == "Пополнение баланса ChatAI на 500,00\u00a0₽"


async def test_succeeded_payment_is_credited_once_under_duplicate_and_concurrent_notifications(owner, fake_yookassa):
    _url, payment_id = await _topup(owner, 1000)
    fake_yookassa.set_status(payment_id, "succeeded")
    responses = await asyncio.gather(*(_notify(fake_yookassa, payment_id) for _ in range(8)))
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["outcome"] for r in responses).count("credited") == 1
    assert (await _notify(fake_yookassa, payment_id)).json()["outcome"] == "already"  # a late duplicate
    assert await _balance(owner) == 1000 * MICRO
    async with async_session() as s:
        assert (await s.execute(sa.select(TopUp.status))).scalar() == "succeeded"
        _checked, problems = await billing.check_accounts(s)
    assert problems == []


async def test_forged_notification_for_a_pending_payment_credits_nothing(owner, fake_yookassa):
    _url, payment_id = await _topup(owner)
    forged = fake_yookassa.notification(payment_id, "payment.succeeded")
    forged["object"]["status"] = "succeeded"  # the body lies; the API says pending
    async with _client() as client:
        response = await client.post("/payments/yookassa/webhook", content=json.dumps(forged))
    assert response.json()["outcome"] == "pending" and await _balance(owner) == 0


async def test_payment_with_another_amount_is_not_credited(owner, fake_yookassa):
    _url, payment_id = await _topup(owner, 5000)
    fake_yookassa.set_status(payment_id, "succeeded")
    fake_yookassa.set_amount(payment_id, "1.00")
    assert (await _notify(fake_yookassa, payment_id)).json()["outcome"] == "mismatch"
    fake_yookassa.set_amount(payment_id, "5000.00", currency="USD")
    assert (await _notify(fake_yookassa, payment_id)).json()["outcome"] == "mismatch"
    assert await _balance(owner) == 0


async def test_canceled_payment_credits_nothing(owner, fake_yookassa):
    _url, payment_id = await _topup(owner)
    fake_yookassa.set_status(payment_id, "canceled")
    assert (await _notify(fake_yookassa, payment_id, "payment.canceled")).json()["outcome"] == "canceled"
    # A forged success afterwards: the API still says canceled.
    assert (await _notify(fake_yookassa, payment_id)).json()["outcome"] == "canceled"
    async with async_session() as s:
        assert (await s.execute(sa.select(TopUp.status))).scalar() == "canceled"
    assert await _balance(owner) == 0


async def test_unknown_payment_and_junk_are_refused_quietly(owner, fake_yookassa):
    async with _client() as client:
        unknown = await client.post("/payments/yookassa/webhook", json={
            "event": "payment.succeeded", "object": {"id": "2f000000-000f-5000-9000-000000000000"}})
        junk = await client.post("/payments/yookassa/webhook", content=b"{not json")
    assert unknown.status_code == 503  # the API does not know it either (404): never credited
    assert junk.status_code == 400
    assert await _balance(owner) == 0


MALFORMED_IDS = ["abc?x=1", "not-ours", "../me", "%2e%2e%2fme", "{id}?x=1", "{id}#x", "{id}/..", "{id} ", " {id}",
                 "{id}\n", "{id}0", "{id/}", "x" * 5000, "2F000000-000F-5000-9000-00000000000G"]


@pytest.mark.parametrize("shape", MALFORMED_IDS)
async def test_notification_with_a_malformed_payment_id_is_refused_before_asking_the_provider(owner, fake_yookassa,
                                                                                            shape):
    _url, payment_id = await _topup(owner)
    fake_yookassa.set_status(payment_id, "succeeded")
    asked_before = len(fake_yookassa.requests)
    async with _client() as client:
        response = await client.post("/payments/yookassa/webhook", json={
            "event": "payment.succeeded",
            "object": {"id": shape.replace("{id}", payment_id).replace("{id/}", payment_id.replace("-", "/"))}})
    assert response.status_code == 400 and response.json() == {"error": "bad payment id"}
    assert fake_yookassa.requests[asked_before:] == []  # no request made to the provider
    assert await _balance(owner) == 0


async def test_the_provider_client_refuses_a_malformed_id_and_quotes_a_good_one(owner, fake_yookassa):
    from chatai.services.payments import MalformedPaymentId

    _url, payment_id = await _topup(owner)
    provider = get_provider()
    asked_before = len(fake_yookassa.requests)
    for malformed in (f"{payment_id}?x=1", f"{payment_id}/../../me", ""):
        with pytest.raises(MalformedPaymentId):
            await provider.get_payment(malformed)
    assert fake_yookassa.requests[asked_before:] == []
    assert (await provider.get_payment(payment_id)).id == payment_id
    assert [r["path"] for r in fake_yookassa.requests[asked_before:]] == [f"/v3/payments/{payment_id}"]


async def test_webhook_ip_allow_list(owner, fake_yookassa, monkeypatch):
    from chatai.settings import get_settings

    _url, payment_id = await _topup(owner)
    fake_yookassa.set_status(payment_id, "succeeded")
    monkeypatch.setenv("YOOKASSA_WEBHOOK_IPS", "185.71.76.0/27, 77.75.156.11")
    get_settings.cache_clear()
    assert (await _notify(fake_yookassa, payment_id)).status_code == 403
    assert await _balance(owner) == 0


async def test_topup_limits_and_unconfigured_payments(owner, fake_yookassa, monkeypatch):
    from chatai.settings import get_settings

    with pytest.raises(BillingError, match="amount_too_small"):
        await _topup(owner, 100)
    with pytest.raises(BillingError, match="amount_too_large"):
        await _topup(owner, 1_000_000)
    monkeypatch.setenv("YOOKASSA_SHOP_ID", "")
    get_settings.cache_clear()
    assert get_provider() is None
    with pytest.raises(BillingError, match="payments_not_configured"):
        async with async_session() as s:
            await start_topup(s, user_id=owner, amount_micros=500 * MICRO, return_url="x", provider=get_provider())
