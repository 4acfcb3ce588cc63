"""`python -m chatai monitor [--once]`: check the platform, alert an admin's Telegram chat on change.

`--once` is for a timer (deploy/chatai-monitor.timer runs it every minute); without it the command loops.
An incident is announced once when it starts and once when it is over (services/monitor.py). The
monitor never starts the embedded servers: a database that is down must be reported, not started.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import timedelta

from chatai.cli_support import run_async
from chatai.settings import Settings, get_settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    monitor = sub.add_parser("monitor", help="check health, runners and the ingestion queue; alert on change")
    monitor.add_argument("--once", action="store_true", help="one check, then exit (for a timer)")
    monitor.add_argument("--interval", type=int, default=None, help="seconds between checks (loop mode)")
    monitor.add_argument("--no-web", action="store_true", help="skip the web app's /health over HTTP")
    monitor.set_defaults(func=_monitor, needs_servers=False, needs_schema=False)


def health_url(settings: Settings) -> str:
    if settings.monitor_health_url:
        return settings.monitor_health_url
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host  # noqa: S104 - a comparison
    return f"http://{host}:{settings.port}/health"


async def _check(args: argparse.Namespace) -> bool:
    """One run; prints the current state. False when an alert was due and Telegram did not take it."""
    from chatai.services.monitor import STATE_FILE, run_check

    settings = get_settings()
    result = await run_check(
        state_path=settings.data_dir / "monitor" / STATE_FILE,
        health_url=None if args.no_web else health_url(settings),
        queue_max_age=timedelta(minutes=settings.monitor_queue_max_age_minutes),
        api_url=settings.telegram_api_url, bot_token=settings.monitor_bot_token.get_secret_value(),
        chat_id=settings.monitor_chat_id,
    )
    for problem in result.problems:
        print(f"problem: {problem.sentence}", flush=True)
    if not result.problems:
        print("ok", flush=True)
    for sentence in result.recovered:
        print(f"recovered: {sentence}", flush=True)
    if not result.delivered:
        print("error: the alert could not be sent to Telegram; it is retried on the next check", flush=True)
    return result.delivered


async def _loop(args: argparse.Namespace) -> None:
    interval = args.interval or get_settings().monitor_interval_seconds
    while True:
        try:
            await _check(args)
        except Exception as exc:  # noqa: BLE001 - the monitor keeps watching whatever one check hit
            log.warning("monitor check failed: %s", type(exc).__name__)
        await asyncio.sleep(max(5, interval))


def _monitor(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not (settings.monitor_bot_token.get_secret_value() and settings.monitor_chat_id):
        log.warning("MONITOR_BOT_TOKEN / MONITOR_CHAT_ID are not set: problems are printed and logged only")
    if args.once:
        return 0 if run_async(_check(args)) else 1
    run_async(_loop(args))
    return 0
