"""Webhook mode: the secret header is checked, the path has no token, repeats are answered once."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette

from chatai.bots.webhook import SECRET_HEADER, webhook_routes
from chatai.security import decrypt_secret
from tests.bots.conftest import FakeBrain, bot_row, connect, status_is, wait_for
from tests.fakes.telegram_updates import text_update
from tests.sql_statements import counted_statements


async def test_webhook_rejects_wrong_secret_and_answers_repeats_once(tenant, fake_telegram, runners, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    from chatai.settings import get_settings

    get_settings.cache_clear()
    bot, token = await connect(fake_telegram, tenant)
    brain = FakeBrain()
    await runners(answer_fn=brain, mode="webhook")
    fake = fake_telegram.bot(token)
    await wait_for(lambda: fake.webhook_url)
    await wait_for(lambda: status_is(bot.id, "running"))  # the row says 'webhook' mode from then on
    assert fake.webhook_url == f"https://support.example.com/telegram/webhook/{bot.id}"
    assert token not in fake.webhook_url
    stored = (await bot_row(bot.id)).webhook_secret
    secret = decrypt_secret(stored)
    assert fake.webhook_secret == secret and secret not in stored  # encrypted at rest, like the token

    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        url = f"/telegram/webhook/{bot.id}"
        update = text_update("Do you ship abroad?", chat_id=61, update_id=777)
        assert (await client.post(url, json=update)).status_code == 403
        assert (await client.post(url, json=update, headers={SECRET_HEADER: "wrong"})).status_code == 403
        assert (await client.post(f"/telegram/webhook/{bot.id.hex[:8]}", json=update,
                                  headers={SECRET_HEADER: secret})).status_code == 403
        for _ in range(3):  # Telegram retries a delivery it thinks failed
            response = await client.post(url, json=update, headers={SECRET_HEADER: secret})
            assert response.status_code == 200
    sent = await fake_telegram.await_sent(token, 1)
    await asyncio.sleep(1.0)
    sent = fake_telegram.sent_messages(token)
    assert len(sent) == 1 and "Do you ship abroad?" in sent[0]["text"]
    assert len(brain.calls) == 1
    assert not fake_telegram.calls(token, "getUpdates")  # webhook and polling are exclusive


async def test_webhook_refuses_a_polling_bot_even_with_its_correct_secret(tenant, fake_telegram, runners):
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=FakeBrain())  # polling mode
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        response = await client.post(f"/telegram/webhook/{bot.id}", json=text_update("forged?", chat_id=62),
                                     headers={SECRET_HEADER: secret})
    assert response.status_code == 403
    await asyncio.sleep(0.5)
    assert fake_telegram.sent_messages(token) == []


async def test_webhook_update_is_answered_from_what_the_web_worker_stored(tenant, fake_telegram, runners,
                                                                          monkeypatch):
    """The route hands the stored update to the runner (bots/pending_wire.py): answered once, with the dialog's
    history, without the runner reading it back; a command without that payload still gets it answered."""
    from chatai.services import bots as bots_svc
    from chatai.services import dialogs

    monkeypatch.setenv("PUBLIC_URL", "https://support.example.com")
    from chatai.settings import get_settings

    get_settings.cache_clear()
    bot, token = await connect(fake_telegram, tenant)
    brain = FakeBrain()
    await runners(answer_fn=brain, mode="webhook")
    await wait_for(lambda: status_is(bot.id, "running"))
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    reads: list[object] = []
    load_pending = dialogs.load_pending

    async def counted(*args, **kwargs):
        reads.append(kwargs.get("update_ids"))
        return await load_pending(*args, **kwargs)

    monkeypatch.setattr(dialogs, "load_pending", counted)
    app = Starlette(routes=webhook_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        for n, question in enumerate(("Do you ship abroad?", "And to Norway?")):
            update = text_update(question, chat_id=63, update_id=900 + n)
            assert (await client.post(f"/telegram/webhook/{bot.id}", json=update,
                                      headers={SECRET_HEADER: secret})).status_code == 200
            assert await fake_telegram.await_sent(token, n + 1)
    assert [c["question"] for c in brain.calls] == ["Do you ship abroad?", "And to Norway?"]
    assert ("user", "Do you ship abroad?") in brain.calls[1]["history"]  # the history came with the update
    assert reads == []  # answered from the command: nothing read back

    # A command from an older web worker (ids only) is answered by reading the named update back.
    publish_command = bots_svc.publish_command

    async def ids_only(action, bot_id, *, update_ids=None, pending=None):
        await publish_command(action, bot_id, update_ids=update_ids)

    monkeypatch.setattr("chatai.bots.webhook.publish_command", ids_only)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        update = text_update("Gift wrapping?", chat_id=63, update_id=902)
        assert (await client.post(f"/telegram/webhook/{bot.id}", json=update,
                                  headers={SECRET_HEADER: secret})).status_code == 200
    assert len(await fake_telegram.await_sent(token, 3)) == 3
    assert [902] in reads
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_messages(token)) == 3 and len(brain.calls) == 3


async def test_a_delivery_is_read_and_stored_on_one_connection(tenant, fake_telegram):
    """The bot row, the operator check and the store share one pooled connection (one checkout and its
    pre-ping per update; an ORM session for the row used to add a second checkout and a rollback), and a
    refused delivery costs one checkout and the row read alone."""
    import sqlalchemy as sa

    from chatai.db.models import Bot
    from chatai.db.session import async_session, get_async_engine

    bot, _token = await connect(fake_telegram, tenant)
    async with async_session() as s:
        await s.execute(sa.update(Bot).where(Bot.id == bot.id).values(mode="webhook"))
        await s.commit()
    secret = decrypt_secret((await bot_row(bot.id)).webhook_secret)
    engine = get_async_engine().sync_engine
    checkouts: list[int] = []

    def checked_out(*_args):
        checkouts.append(1)

    def kinds(statements: list[str]) -> list[str]:
        return [statement.split()[0].upper() for statement in statements]

    sa.event.listen(engine.pool, "checkout", checked_out)
    app = Starlette(routes=webhook_routes())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            url = f"/telegram/webhook/{bot.id}"
            with counted_statements() as statements:
                refused = await client.post(url, json=text_update("forged", chat_id=63, update_id=901),
                                            headers={SECRET_HEADER: "wrong"})
            assert refused.status_code == 403 and len(checkouts) == 1 and kinds(statements) == ["SELECT"]
            checkouts.clear()
            with counted_statements() as statements:
                stored = await client.post(url, json=text_update("hello", chat_id=63, update_id=902),
                                           headers={SECRET_HEADER: secret})
    finally:
        sa.event.remove(engine.pool, "checkout", checked_out)
    # the bot row, the operator link lookup, the one statement storing the update (record_incoming)
    assert stored.status_code == 200 and len(checkouts) == 1 and kinds(statements) == ["SELECT", "SELECT", "WITH"]
