"""`python -m chatai`: operations from the shell. Each command group lives in its own module.

The CLI uses the same settings and embedded servers as the app. When the embedded servers are
not running it starts them for the command and stops them afterwards (Ctrl-C and SIGTERM included),
so it works with or without the app running. Before a command touches the data, the embedded
database gets its pending migrations; an external one must be at this version's schema. An expected
failure (database down, unknown id, missing file) is one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from typing import TYPE_CHECKING

from chatai.settings import get_settings

if TYPE_CHECKING:
    from chatai.embedded import EmbeddedServers

# Modules with `register(subparsers)`; each adds one command group.
COMMAND_MODULES = ("chatai.cli.core", "chatai.cli.kb", "chatai.cli.bots", "chatai.cli.app", "chatai.cli.dialogs",
                   "chatai.cli.billing", "chatai.cli.servers", "chatai.cli.monitor", "chatai.cli.mail",
                   "chatai.cli.operators", "chatai.cli.widget")


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chatai", description="ChatAI operations")
    sub = parser.add_subparsers(dest="group", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not built yet
                continue
            raise
        module.register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a process manager, `kill`): unwinds like Ctrl-C so that what the command started stops."""


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated


def _configure_logging() -> None:
    from chatai.logging_setup import configure_logging  # LOG_FORMAT text/json, secrets redacted on every handler

    configure_logging()


def main(argv: list[str] | None = None) -> int:
    from chatai.cli_support import ensure_schema, explain_failure

    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging()
    signal.signal(signal.SIGTERM, _terminate)
    servers = None
    try:
        if getattr(args, "needs_servers", True):
            from chatai.embedded import EmbeddedServers

            servers = EmbeddedServers(get_settings())
            servers.start()
        if getattr(args, "needs_schema", True):
            ensure_schema()
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = explain_failure(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    finally:
        if servers is not None:
            _stop_servers(servers)


def _stop_servers(servers: EmbeddedServers) -> None:
    """Stop what this command started. A second SIGTERM must not cut that short and leave them half-up."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        servers.stop()
    except Exception as exc:  # noqa: BLE001 - the command's own outcome is already decided
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"warning: the embedded servers this command started may still be running ({reason[:200]}); "
              "stop them with `python -m chatai servers stop`", file=sys.stderr)
