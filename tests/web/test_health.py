import httpx

from chatai.cache import reset_redis
from chatai.db.session import reset_engines
from chatai.settings import get_settings
from chatai.web.api import build_api


async def _get_health() -> httpx.Response:
    transport = httpx.ASGITransport(app=build_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/health")


async def test_health_reports_each_component_ok(db):
    response = await _get_health()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["revision"]
    assert body["components"]["redis"]["status"] == "ok"
    assert "bot_runner" in body["components"]


async def test_health_is_503_when_redis_is_down(db, monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "redis_url", f"unix://{tmp_path}/nothing.sock")
    reset_redis()
    response = await _get_health()
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["redis"]["status"] == "down"
    assert body["components"]["database"]["status"] == "ok"
    reset_redis()


async def test_health_is_503_when_the_database_is_down(db, monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "database_url", f"postgresql+psycopg://postgres:@/postgres?host={tmp_path}")
    reset_engines()
    response = await _get_health()
    assert response.status_code == 503
    assert response.json()["components"]["database"]["status"] == "down"
    reset_engines()
