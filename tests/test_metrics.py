"""/metrics: what the runner did (counted through Redis) and what the platform is (read at scrape time),
in Prometheus' format, and only for loopback callers or the metrics token."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatai import metrics
from chatai.db.models import Bot, Document, UserSession
from chatai.db.session import async_session
from chatai.web.api import build_api
from tests.bots.conftest import FakeBrain, connect, runners, tenant, wait_for  # noqa: F401 - fixtures
from tests.fakes.telegram_server import fake_telegram  # noqa: F401 - fixture


async def _scrape(client_host: str = "127.0.0.1", headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_api(), client=(client_host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/metrics", headers=headers or {})


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


@pytest.fixture
async def clean_counters(db):
    """Counts a previous test's runner tallied but had not flushed yet are not this test's."""
    metrics.events.discard()
    yield


async def test_runner_events_reach_metrics(tenant, fake_telegram, runners, clean_counters):  # noqa: F811
    brain = FakeBrain(delay=0.3)
    bot, token = await connect(fake_telegram, tenant)
    await runners(answer_fn=brain)
    fake_telegram.fail_next(token, "sendMessage", 429, retry_after=1)  # one send error, then delivered
    fake_telegram.push_text(token, "Where is my parcel?", chat_id=11)
    fake_telegram.push_text(token, "/start", chat_id=12)
    assert len(await fake_telegram.await_sent(token, 2)) == 2
    brain.reply = lambda q: (_ for _ in ()).throw(RuntimeError("model unavailable"))
    fake_telegram.push_text(token, "And tomorrow?", chat_id=13)
    assert len(await fake_telegram.await_sent(token, 3)) == 3

    async def counted() -> bool:
        response = await _scrape()
        return _samples(response.text).get(("chatai_answers_total", (("answered_by", "fallback"),))) == 1

    assert await wait_for(counted)
    response = await _scrape()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("chatai_answers_total", (("answered_by", "llm"),))] == 1
    assert samples[("chatai_answers_total", (("answered_by", "greeting"),))] == 1
    assert samples[("chatai_telegram_send_errors_total", (("reason", "retry_after"),))] == 1
    assert samples[("chatai_llm_tokens_total", (("kind", "prompt"),))] == 3
    assert samples[("chatai_llm_tokens_total", (("kind", "completion"),))] == 5
    assert samples[("chatai_llm_errors_total", (("kind", "error"),))] == 1
    assert samples[("chatai_answer_latency_seconds_count", ())] == 3
    # The LLM answer took >= 0.3 s (brain delay) + 1 s (retry_after): not in the buckets below 1 s.
    assert samples[("chatai_answer_latency_seconds_bucket", (("le", "1.0"),))] <= 2
    assert samples[("chatai_answer_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert samples[("chatai_answer_latency_seconds_sum", ())] >= 1.3
    assert samples[("chatai_bots", (("status", "running"),))] == 1


async def test_states_read_at_scrape_time(tenant, clean_counters):  # noqa: F811
    now = datetime.now(UTC)
    async with async_session() as s:
        s.add(Document(assistant_id=tenant.assistant_id, filename="a.pdf", content_hash="a" * 64, status="queued",
                       updated_at=now - timedelta(minutes=5)))
        s.add(Document(assistant_id=tenant.assistant_id, filename="b.pdf", content_hash="b" * 64,
                       status="processing", lease_until=now - timedelta(minutes=1)))
        s.add(Document(assistant_id=tenant.assistant_id, filename="c.pdf", content_hash="c" * 64, status="ready"))
        for seen, expires in ((now, now + timedelta(days=1)), (now - timedelta(hours=2), now + timedelta(days=1)),
                              (now - timedelta(days=20), now - timedelta(days=1))):
            s.add(UserSession(user_id=tenant.owner_id, token_hash=uuid.uuid4().hex, expires_at=expires,
                              last_seen_at=seen))
        await s.commit()
        for status in ("running", "error", "error"):
            s.add(Bot(owner_id=tenant.owner_id, assistant_id=tenant.assistant_id, **_bot_fields(), status=status))
        await s.commit()

    samples = _samples((await _scrape()).text)
    assert samples[("chatai_ingest_queue_documents", (("state", "queued"),))] == 1
    assert samples[("chatai_ingest_queue_documents", (("state", "processing"),))] == 1
    assert samples[("chatai_ingest_queue_documents", (("state", "stalled"),))] == 1
    # Five minutes old when inserted; a slow run only adds seconds (an hour would mean a wrong column).
    assert 290 <= samples[("chatai_ingest_queue_oldest_wait_seconds", ())] < 3600
    assert samples[("chatai_web_sessions_signed_in", ())] == 2
    assert samples[("chatai_web_sessions_active", ())] == 1
    assert samples[("chatai_bots", (("status", "error"),))] == 2
    assert samples[("chatai_bots", (("status", "running"),))] == 1
    assert samples[("chatai_bots", (("status", "paused"),))] == 0


_bot_numbers = iter(range(1, 10_000))


def _bot_fields() -> dict:
    n = next(_bot_numbers)
    return {"telegram_bot_id": 880000 + n, "username": f"m{n}_bot", "token_encrypted": "x"}


async def test_metrics_not_public(db, monkeypatch):
    from chatai.settings import get_settings

    assert (await _scrape("203.0.113.7")).status_code == 403
    relayed = await _scrape("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"})  # nginx on this machine
    assert relayed.status_code == 403
    monkeypatch.setenv("METRICS_TOKEN", "scrape-secret-0123456789")
    get_settings.cache_clear()
    try:
        assert (await _scrape("203.0.113.7", {"Authorization": "Bearer wrong"})).status_code == 403
        allowed = await _scrape("203.0.113.7", {"Authorization": "Bearer scrape-secret-0123456789"})
        assert allowed.status_code == 200 and "chatai_bots" in allowed.text
    finally:
        monkeypatch.delenv("METRICS_TOKEN")
        get_settings.cache_clear()


async def test_metrics_path_served_in_front_of_reflex(db):
    from starlette.responses import PlainTextResponse

    from chatai.web.api import with_api_routes

    app = with_api_routes(PlainTextResponse("reflex page"))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics")
    assert response.status_code == 403 and "metrics token" in response.text


async def test_event_counters_batch_into_redis(db):
    from chatai.cache import get_redis

    # Batching: no flush is due during the test, so nothing may reach Redis until one is asked for.
    counters = metrics.EventCounters(interval=3600)
    for _ in range(100):
        counters.answer(answered_by="LLM answer!", latency_ms=400)
    await asyncio.sleep(0.05)  # the scheduled flush task gets to run (and must only wait)
    assert await get_redis().hgetall(metrics.COUNTERS_KEY) == {}  # not one Redis call per event
    await counters.flush()
    counters._task.cancel()  # its hour-long wait
    stored = await get_redis().hgetall(metrics.COUNTERS_KEY)
    assert stored["answers:llm_answer_"] == "100"  # labels are sanitized
    assert stored["latency_count"] == "100" and stored["latency_sum_ms"] == "40000"
    # ...and a flush comes by itself once its interval passed (waited for, not timed).
    soon = metrics.EventCounters(interval=0.05)
    soon.add("send_errors:x")
    assert await wait_for(lambda: get_redis().hexists(metrics.COUNTERS_KEY, "send_errors:x"))
