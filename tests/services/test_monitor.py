"""`chatai monitor` against the fake Bot API: an incident is announced once, its end once, not every run."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from chatai.db.models import Document
from chatai.db.session import async_session
from chatai.services.monitor import STATE_FILE, load_state, run_check
from tests.bots.conftest import connect, runners, wait_for  # noqa: F401 - runners is a fixture
from tests.factories import make_tenant
from tests.fakes.telegram_server import fake_telegram, make_token  # noqa: F401 - fixture

MONITOR_TOKEN = make_token(990001)
ADMIN_CHAT = "424242"


async def _stuck_document(assistant_id) -> Document:
    async with async_session() as s:
        document = Document(assistant_id=assistant_id, filename="prices.pdf", content_hash="h" * 64,
                            status="queued", updated_at=datetime.now(UTC) - timedelta(hours=1))
        s.add(document)
        await s.commit()
        return document


async def _check(fake, tmp_path, **kw):
    return await run_check(state_path=tmp_path / STATE_FILE, health_url=kw.pop("health_url", None),
                           queue_max_age=timedelta(minutes=15), api_url=fake.url, bot_token=MONITOR_TOKEN,
                           chat_id=ADMIN_CHAT, **kw)


async def _runner_ok() -> bool:
    from chatai.bots.health import runner_health

    return (await runner_health())["status"] == "ok"


async def test_outage_alerts_once_and_recovery_once(db, fake_telegram, runners, tmp_path):  # noqa: F811
    fake_telegram.add_bot(MONITOR_TOKEN, "chatai_monitor_bot")
    tenant = await make_tenant()
    await connect(fake_telegram, tenant)  # a bot that should run, and no runner alive: the runner is down
    document = await _stuck_document(tenant.assistant_id)

    for _ in range(3):  # a timer every minute: the same outage, still going
        result = await _check(fake_telegram, tmp_path)
        assert {p.key for p in result.problems} == {"bot_runner", "ingest_queue"}
    alerts = fake_telegram.sent_messages(MONITOR_TOKEN)
    assert len(alerts) == 1, alerts
    assert alerts[0]["chat_id"] == int(ADMIN_CHAT)
    assert "bot runner is down" in alerts[0]["text"] and "ingestion is stuck" in alerts[0]["text"]
    assert set(load_state(tmp_path / STATE_FILE)["open"]) == {"bot_runner", "ingest_queue"}

    await runners()  # the runner is back and the document got indexed
    assert await wait_for(_runner_ok)
    async with async_session() as s:
        await s.execute(sa.update(Document).where(Document.id == document.id).values(status="ready"))
        await s.commit()
    for _ in range(3):
        result = await _check(fake_telegram, tmp_path)
        assert result.problems == []
    alerts = fake_telegram.sent_messages(MONITOR_TOKEN)
    assert len(alerts) == 2, alerts
    assert "Recovered" in alerts[1]["text"] and "bot runner is down" in alerts[1]["text"]
    assert load_state(tmp_path / STATE_FILE)["open"] == {}


async def test_undelivered_alert_is_sent_on_the_next_run(db, fake_telegram, tmp_path):  # noqa: F811
    fake_telegram.add_bot(MONITOR_TOKEN, "chatai_monitor_bot")
    tenant = await make_tenant()
    await _stuck_document(tenant.assistant_id)
    fake_telegram.fail_next(MONITOR_TOKEN, "sendMessage", 502)

    first = await _check(fake_telegram, tmp_path)
    assert not first.delivered and fake_telegram.sent_messages(MONITOR_TOKEN) == []
    second = await _check(fake_telegram, tmp_path)
    assert second.delivered and [p.key for p in second.opened] == ["ingest_queue"]
    third = await _check(fake_telegram, tmp_path)
    assert third.opened == []
    assert len(fake_telegram.sent_messages(MONITOR_TOKEN)) == 1


async def test_web_app_not_answering_is_a_problem(db, fake_telegram, tmp_path):  # noqa: F811
    fake_telegram.add_bot(MONITOR_TOKEN, "chatai_monitor_bot")
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await _check(fake_telegram, tmp_path, health_url=f"http://127.0.0.1:{port}/health")
    assert [p.key for p in result.problems] == ["web"]
    assert "does not answer" in fake_telegram.sent_messages(MONITOR_TOKEN)[0]["text"]
