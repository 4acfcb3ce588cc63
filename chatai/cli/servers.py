"""`python -m chatai servers status | stop`: the embedded PostgreSQL and Redis under the data folder.

They outlive the process that started them by design (the app, the bot runner and the CLI share
them), so a process killed without a chance to clean up (SIGKILL, a power cut) can leave them
running: these commands show and stop them.
"""

from __future__ import annotations

import argparse

from chatai.settings import Settings, get_settings


def register(sub: argparse._SubParsersAction) -> None:
    servers = sub.add_parser("servers", help="the embedded PostgreSQL and Redis").add_subparsers(
        dest="action", required=True)
    status = servers.add_parser("status", help="whether the embedded servers are running")
    status.set_defaults(func=_status, needs_servers=False, needs_schema=False)
    stop = servers.add_parser("stop", help="stop the embedded servers (stop the app and bot runners first)")
    stop.set_defaults(func=_stop, needs_servers=False, needs_schema=False)


def _postgres_line(settings: Settings) -> str:
    from chatai.embedded import postgres_pid

    if not settings.embedded_database:
        return "PostgreSQL: not embedded (DATABASE_URL is set)"
    pid = postgres_pid(settings.pg_data_dir)
    state = f"running, pid {pid}" if pid else "not running"
    return f"PostgreSQL: {state} ({settings.pg_data_dir})"


def _redis_line(settings: Settings) -> str:
    from chatai.embedded import redis_pid

    if not settings.embedded_redis:
        return "Redis: not embedded (REDIS_URL is set)"
    pid = redis_pid(settings.redis_dir)
    state = f"running, pid {pid}" if pid else "not running"
    return f"Redis: {state} ({settings.redis_dir})"


def _status(args: argparse.Namespace) -> None:
    settings = get_settings()
    print(_postgres_line(settings))
    print(_redis_line(settings))


def _stop(args: argparse.Namespace) -> None:
    from chatai.embedded import postgres_pid, redis_pid, stop_postgres, stop_redis

    settings = get_settings()
    # The folders are what matters: a process with DATABASE_URL set may still have left one behind.
    stopped = []
    if redis_pid(settings.redis_dir):
        stop_redis(settings.redis_dir)
        stopped.append("Redis")
    if postgres_pid(settings.pg_data_dir):
        stop_postgres(settings.pg_data_dir)
        stopped.append("PostgreSQL")
    print(f"stopped {' and '.join(stopped)}" if stopped else "no embedded server was running")
