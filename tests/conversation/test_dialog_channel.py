"""Dialog.channel (migration 0017): checked by the database, "telegram" when not given, filterable in the
inbox and on the command line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chatai.db.models import Dialog
from chatai.db.session import async_session
from chatai.services import inbox
from tests.cli.test_core_cli import cli
from tests.factories import make_tenant


async def _dialogs(owner_id, assistant_id) -> dict[str, object]:
    async with async_session() as s:
        made = {c: Dialog(owner_id=owner_id, assistant_id=assistant_id, channel=c, user_name=f"{c} customer")
                for c in ("telegram", "web", "playground", "business")}
        s.add_all(made.values())
        await s.commit()
        return {c: d.id for c, d in made.items()}


async def test_unknown_channel_is_refused_and_a_missing_one_is_telegram(db):
    t = await make_tenant()
    async with async_session() as s:
        await s.execute(sa.text("INSERT INTO dialogs (id, assistant_id, owner_id, user_name, user_language, status, "
                                "cost_micros, last_message_at, created_at) VALUES (gen_random_uuid(), :a, :o, '', '', "
                                "'ai', 0, now(), now())"), {"a": t.assistant_id, "o": t.owner_id})
        await s.commit()
        assert (await s.execute(sa.select(Dialog.channel))).scalars().all() == ["telegram"]
    with pytest.raises(IntegrityError):
        async with async_session() as s:
            s.add(Dialog(owner_id=t.owner_id, assistant_id=t.assistant_id, channel="fax"))
            await s.commit()


async def test_inbox_filters_by_channel_and_only_the_owners(db):
    a = await make_tenant("a@example.com")
    b = await make_tenant("b@example.com")
    ids = await _dialogs(a.owner_id, a.assistant_id)
    await _dialogs(b.owner_id, b.assistant_id)
    async with async_session() as s:
        for channel, dialog_id in ids.items():
            page = await inbox.list_dialogs(s, owner_id=a.owner_id, filters=inbox.InboxFilter(channel=channel))
            assert [(r.id, r.channel) for r in page.rows] == [(dialog_id, channel)]
        every = await inbox.list_dialogs(s, owner_id=a.owner_id)
    assert sorted(r.channel for r in every.rows) == ["business", "playground", "telegram", "web"]


async def test_cli_lists_channel_and_filters_by_it(db):
    a = await make_tenant("cli-channels@example.com")
    ids = await _dialogs(a.owner_id, a.assistant_id)
    out = cli("dialogs", "list", "--owner", "cli-channels@example.com", "--channel", "web", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["id"], r["channel"]) for r in rows] == [(str(ids["web"]), "web")]
