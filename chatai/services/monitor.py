"""Is the platform working, and has an admin been told? What `python -m chatai monitor` runs.

A run collects the current problems (web app's /health over HTTP, database, Redis, bot runners, the
ingestion queue), compares them with the incidents already announced, and sends one Telegram message
through the monitoring bot for what changed: a problem new since the last run, or one that cleared. A
problem that persists is not announced again, so a timer every minute does not flood the chat.

The announced incidents are kept in a file under the data folder, not in Redis: Redis may be what is down,
and the monitor must remember the outage it announced to announce the recovery. The state moves only
for what Telegram accepted, so an alert that could not be sent is tried again on the next run.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from chatai.db.models import Document

log = logging.getLogger(__name__)

STATE_FILE = "monitor-state.json"
HTTP_TIMEOUT = 5.0


@dataclass(frozen=True)
class IngestQueue:
    queued: int
    processing: int
    stalled: int  # processing with an expired lease: its worker died
    oldest_wait_seconds: float  # of what is waiting for a worker (queued or stalled); 0 when nothing waits


@dataclass(frozen=True)
class Problem:
    key: str  # stable across runs: what an incident is keyed by
    sentence: str  # what the admin reads


@dataclass(frozen=True)
class RunResult:
    problems: list[Problem]
    opened: list[Problem]  # announced in this run
    recovered: list[str]  # sentences of incidents announced as over in this run
    delivered: bool  # False when there was something to send and Telegram did not take it


async def ingest_queue(session: AsyncSession, *, now: datetime | None = None) -> IngestQueue:
    """The documents waiting for or being indexed (also for /metrics). One statement."""
    now = now or datetime.now(UTC)
    waiting = sa.or_(Document.status == "queued",
                     sa.and_(Document.status == "processing",
                             sa.or_(Document.lease_until.is_(None), Document.lease_until < now)))
    row = (await session.execute(sa.select(
        sa.func.count().filter(Document.status == "queued"),
        sa.func.count().filter(Document.status == "processing"),
        sa.func.count().filter(sa.and_(Document.status == "processing", waiting)),
        sa.func.min(Document.updated_at).filter(waiting),
    ).where(Document.status.in_(("queued", "processing"))))).one()
    oldest = row[3]
    return IngestQueue(queued=row[0], processing=row[1], stalled=row[2],
                       oldest_wait_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


async def _web_problem(health_url: str) -> Problem | None:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.get(health_url)
    except httpx.HTTPError as exc:
        return Problem("web", f"The web app does not answer at {health_url} ({type(exc).__name__}).")
    if response.status_code not in (200, 503):  # 503 carries the components, checked directly below
        return Problem("web", f"The web app's health check answered HTTP {response.status_code}.")
    return None


async def _component_problems() -> list[Problem]:
    from chatai.health import check_health

    report, _ok = await check_health()
    components = report["components"]
    problems = []
    names = {"database": "The database", "redis": "Redis", "bot_runner": "The bot runner"}
    for name, part in components.items():
        if part.get("status") == "down":
            reason = f": {part['error'].splitlines()[0][:160]}" if part.get("error") else ""
            if name == "bot_runner" and not reason:
                reason = f": no runner alive for {part.get('bots_wanted', 0)} bot(s) that should run"
            problems.append(Problem(name, f"{names.get(name, name)} is down{reason}."))
    runner = components.get("bot_runner", {})
    if runner.get("status") == "degraded" and runner.get("bots_error"):
        problems.append(Problem("bots_error", f"{runner['bots_error']} bot(s) are in error (see Admin > Bots)."))
    return problems


async def _queue_problem(max_age: timedelta) -> Problem | None:
    from chatai.db.session import async_session

    async with async_session() as session:
        queue = await ingest_queue(session)
    if queue.oldest_wait_seconds > max_age.total_seconds():
        minutes = int(queue.oldest_wait_seconds // 60)
        return Problem("ingest_queue", f"Document ingestion is stuck: a document has waited {minutes} min "
                                       f"({queue.queued} queued, {queue.stalled} abandoned by a worker).")
    return None


async def collect_problems(*, health_url: str | None, queue_max_age: timedelta) -> list[Problem]:
    """Every current problem. The queue is checked only when the database answers (else it is that)."""
    problems: list[Problem] = []
    if health_url:
        web = await _web_problem(health_url)
        if web:
            problems.append(web)
    problems.extend(await _component_problems())
    if not any(p.key == "database" for p in problems):
        try:
            queued = await _queue_problem(queue_max_age)
        except Exception as exc:  # noqa: BLE001 - the database blinked between the checks: that is the problem
            queued = Problem("database", f"The database is down: {type(exc).__name__}.")
        if queued:
            problems.append(queued)
    return problems


def load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"open": {}}
    return data if isinstance(data.get("open"), dict) else {"open": {}}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically (a crash never leaves half a file), owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


def alert_text(opened: list[Problem], recovered: list[str]) -> str:
    lines = []
    if opened:
        lines.append("🔴 ChatAI problem:" if len(opened) == 1 else "🔴 ChatAI problems:")
        lines += [f"• {p.sentence}" for p in opened]
    if recovered:
        if lines:
            lines.append("")
        lines.append("✅ Recovered:")
        lines += [f"• {sentence}" for sentence in recovered]
    return "\n".join(lines)


async def send_alert(*, api_url: str, bot_token: str, chat_id: str, text: str) -> bool:
    """sendMessage through the monitoring bot. False (logged, token masked) when Telegram did not take it."""
    url = f"{api_url.rstrip('/')}/bot{bot_token}/sendMessage"
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.post(url, json={"chat_id": chat_id, "text": text[:4096],
                                                    "disable_web_page_preview": True})
        ok = response.status_code == 200 and bool(response.json().get("ok"))
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("monitor: alert not sent: %s", type(exc).__name__)
        return False
    if not ok:
        log.warning("monitor: alert not sent: Telegram answered HTTP %s", response.status_code)
    return ok


async def run_check(*, state_path: Path, health_url: str | None, queue_max_age: timedelta, api_url: str,
                    bot_token: str, chat_id: str, now: datetime | None = None) -> RunResult:
    """One check: collect, announce what changed (when a monitoring bot is set up), remember it."""
    now = now or datetime.now(UTC)
    problems = await collect_problems(health_url=health_url, queue_max_age=queue_max_age)
    state = load_state(state_path)
    announced: dict[str, dict[str, str]] = state["open"]
    current = {p.key: p for p in problems}
    opened = [p for p in problems if p.key not in announced]
    over = [key for key in announced if key not in current]
    recovered = [announced[key].get("sentence", key) for key in over]
    delivered = True
    if opened or over:
        text = alert_text(opened, recovered)
        log.warning("monitor: %s", " | ".join(line for line in text.splitlines() if line))
        if bot_token and chat_id:
            delivered = await send_alert(api_url=api_url, bot_token=bot_token, chat_id=chat_id, text=text)
        if delivered:
            for p in opened:
                announced[p.key] = {"sentence": p.sentence, "since": now.isoformat()}
            for key in over:
                announced.pop(key, None)
            state["last_change"] = now.isoformat()
    state["last_run"] = now.isoformat()
    save_state(state_path, state)
    return RunResult(problems=problems, opened=opened if delivered else [],
                     recovered=recovered if delivered else [], delivered=delivered)
