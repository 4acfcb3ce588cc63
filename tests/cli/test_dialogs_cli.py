"""`python -m chatai dialogs list/show` as its own process against the test database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from chatai.db.models import Dialog, Message
from chatai.db.session import async_session
from tests.cli.test_core_cli import cli
from tests.factories import make_tenant


async def _seed() -> tuple[uuid.UUID, uuid.UUID]:
    a = await make_tenant("cli-owner@example.com")
    b = await make_tenant("cli-other@example.com")
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    async with async_session() as s:
        waiting = Dialog(owner_id=a.owner_id, assistant_id=a.assistant_id, user_name="Ольга", status="waiting",
                         channel="playground", last_message_at=t0 + timedelta(minutes=5))
        ai = Dialog(owner_id=a.owner_id, assistant_id=a.assistant_id, user_name="Bob", last_message_at=t0)
        other = Dialog(owner_id=b.owner_id, assistant_id=b.assistant_id, user_name="Hidden", last_message_at=t0)
        s.add_all([waiting, ai, other])
        await s.flush()
        s.add_all([
            Message(dialog_id=waiting.id, role="user", text="позовите оператора", created_at=t0),
            Message(dialog_id=waiting.id, role="system", text="handoff_requested",
                    created_at=t0 + timedelta(seconds=1)),
            Message(dialog_id=ai.id, role="user", text="price?", created_at=t0),
            Message(dialog_id=ai.id, role="assistant", text="10 EUR", answered_by="qa",
                    created_at=t0 + timedelta(seconds=2)),
        ])
        await s.commit()
        return waiting.id, ai.id


async def test_dialogs_list_json_lines_filtered_by_status(db):
    waiting_id, ai_id = await _seed()
    every = cli("dialogs", "list", "--owner", "CLI-Owner@example.com", "--json")
    assert every.returncode == 0, every.stderr
    rows = [json.loads(line) for line in every.stdout.splitlines()]
    assert [r["id"] for r in rows] == [str(waiting_id), str(ai_id)]
    assert {"id", "status", "bot", "user_name", "last_message_at", "messages"} <= set(rows[0])
    assert rows[0]["user_name"] == "Ольга" and rows[0]["messages"] == 2 and rows[0]["channel"] == "playground"
    waiting = cli("dialogs", "list", "--owner", "cli-owner@example.com", "--status", "waiting", "--json")
    assert [json.loads(line)["id"] for line in waiting.stdout.splitlines()] == [str(waiting_id)]
    text = cli("dialogs", "list", "--owner", "cli-owner@example.com")
    assert str(ai_id) in text.stdout and "Hidden" not in text.stdout


async def test_dialogs_show_json_has_every_message(db):
    _, ai_id = await _seed()
    shown = cli("dialogs", "show", str(ai_id), "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["id"] == str(ai_id) and data["status"] == "ai"
    assert [(m["role"], m["text"], m["answered_by"]) for m in data["messages"]] == [
        ("user", "price?", ""), ("assistant", "10 EUR", "qa")]
    assert all(datetime.fromisoformat(m["created_at"]) for m in data["messages"])
    plain = cli("dialogs", "show", str(ai_id))
    assert "assistant [qa]: 10 EUR" in plain.stdout


def test_dialogs_errors_are_one_line_and_non_zero(db):
    for args, message in [
        (("dialogs", "list", "--owner", "ghost@example.com"), "no user with email ghost@example.com"),
        (("dialogs", "show", "not-an-id"), "is not a dialog id"),
        (("dialogs", "show", str(uuid.uuid4())), "no dialog"),
    ]:
        result = cli(*args)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
