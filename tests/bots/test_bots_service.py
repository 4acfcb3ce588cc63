"""Connecting bots: getMe before saving, encrypted token, owner scoping, token replacement, CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from chatai.db.models import Bot
from chatai.db.session import async_session
from chatai.security import decrypt_secret
from chatai.services.assistants import NotFound
from chatai.services.bots import BotError, connect_bot, list_bots, pause_bot, replace_token, resume_bot
from tests.bots.conftest import connect, make_tenant
from tests.fakes.telegram_server import make_token


async def test_connect_valid_token_saves_encrypted_bot(tenant, fake_telegram):
    bot, token = await connect(fake_telegram, tenant, "acme_support_bot")
    row = await _row(bot.id)
    assert row.username == "acme_support_bot"
    assert row.telegram_bot_id == int(token.split(":")[0])
    assert token not in row.token_encrypted and decrypt_secret(row.token_encrypted) == token
    assert row.token_hint.startswith(token.split(":")[0] + ":…") and token not in row.token_hint
    assert len(row.webhook_secret) >= 32
    async with async_session() as s:
        views = await list_bots(s, owner_id=tenant.owner_id)
    assert [v.username for v in views] == ["acme_support_bot"]
    assert views[0].assistant_name == "Helper"
    assert token not in repr(views[0])
    assert [c[0] for c in fake_telegram.calls(token)] == ["getMe"]


async def test_connect_rejected_token_saves_nothing(tenant, fake_telegram):
    unknown = make_token(123456789)  # the fake answers 401 for tokens it does not know
    async with async_session() as s:
        with pytest.raises(BotError) as err:
            await connect_bot(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, token=unknown)
        assert err.value.code == "invalid_token"
        assert "401" in err.value.message and "@BotFather" in err.value.message
        assert unknown not in err.value.message
        with pytest.raises(BotError) as bad:
            await connect_bot(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, token="hello")
        assert bad.value.code == "bad_format"
        assert (await s.execute(sa.select(sa.func.count()).select_from(Bot))).scalar() == 0


async def test_connect_same_bot_twice_is_refused(tenant, fake_telegram):
    bot, token = await connect(fake_telegram, tenant)
    async with async_session() as s:
        with pytest.raises(BotError) as err:
            await connect_bot(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, token=token)
    assert err.value.code == "already_connected"


async def test_other_owner_cannot_touch_the_bot(tenant, fake_telegram):
    bot, _ = await connect(fake_telegram, tenant)
    other = await make_tenant("other@example.com")
    async with async_session() as s:
        with pytest.raises(NotFound):
            await pause_bot(s, owner_id=other.owner_id, bot_id=bot.id)
        with pytest.raises(NotFound):
            await connect_bot(s, owner_id=other.owner_id, assistant_id=tenant.assistant_id, token=make_token(55555))
        assert await list_bots(s, owner_id=other.owner_id) == []


async def test_replace_token_must_be_the_same_bot(tenant, fake_telegram):
    bot, token = await connect(fake_telegram, tenant)
    bot_id = int(token.split(":")[0])
    new_token = f"{bot_id}:BB{'y' * 33}"
    fake_telegram.add_bot(new_token, "renamed_bot")
    other_token = make_token(654321)
    fake_telegram.add_bot(other_token, "someone_else_bot")
    async with async_session() as s:
        with pytest.raises(BotError) as err:
            await replace_token(s, owner_id=tenant.owner_id, bot_id=bot.id, token=other_token)
        assert err.value.code == "different_bot" and "@someone_else_bot" in err.value.message
        await pause_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
        await replace_token(s, owner_id=tenant.owner_id, bot_id=bot.id, token=new_token)
        await resume_bot(s, owner_id=tenant.owner_id, bot_id=bot.id)
    row = await _row(bot.id)
    assert decrypt_secret(row.token_encrypted) == new_token
    assert row.username == "renamed_bot" and row.desired_state == "running" and row.status == "starting"


def test_cli_connect_and_list(db, fake_telegram, capsys):
    import asyncio

    from chatai.cli import main

    tenant = asyncio.run(make_tenant())
    token = make_token(424242)
    fake_telegram.add_bot(token, "cli_shop_bot")
    assert main(["bots", "connect", "--assistant", str(tenant.assistant_id), "--token", token]) == 0
    out = capsys.readouterr().out
    assert "@cli_shop_bot" in out
    assert main(["bots", "list"]) == 0
    listing = capsys.readouterr().out
    assert "cli_shop_bot" in listing and token not in listing
    assert main(["bots", "connect", "--assistant", str(tenant.assistant_id), "--token", make_token(99999)]) == 1
    assert "401" in capsys.readouterr().err


async def _row(bot_id):
    async with async_session() as s:
        return await s.get(Bot, bot_id)
