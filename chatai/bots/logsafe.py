"""Keep secrets and customers' words out of logs.

Tokens: httpx logs every request URL at INFO and a Bot API URL is /bot<token>/<method>, so its loggers
are held at WARNING. python-telegram-bot logs its base URL (with the token) at DEBUG, so its loggers
get a filter that masks anything shaped like a token.

Customers' words: a database error's text carries the statement's parameters (a message, a user's name),
and other exceptions may quote what they choke on. So the bot runner logs exceptions at the default level
only through `describe()`: the exception's class, the driver's class and SQLSTATE for a database error,
Telegram's own (token-masked) description for a Bot API error, never str() of anything else, and no
traceback (its last line is that str()). Full details go to DEBUG, for a person debugging on purpose.
"""

from __future__ import annotations

import logging
import re

from telegram.error import TelegramError

from chatai.security import mask_secret
from chatai.services.bots import redact

PTB_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application", "telegram.request",
               "telegram.ext.Updater")


# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                    "taskName"}
# OpenAI-style keys and passwords inside URLs (scheme://user:password@host), whatever logged them.
_API_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^@\s/]+@")


def _configured_secrets() -> list[str]:
    from chatai.settings import get_settings

    settings = get_settings()
    values = (settings.openai_api_key, settings.secret_key, settings.smtp_password, settings.yookassa_secret_key,
              settings.metrics_token, settings.monitor_bot_token)
    return [v.get_secret_value() for v in values if len(v.get_secret_value()) >= 8]


def scrub(text: str) -> str:
    """`text` without bot tokens, API keys, configured secrets or URL passwords."""
    text = redact(text)
    for secret in _configured_secrets():
        if secret in text:
            text = text.replace(secret, mask_secret(secret))
    text = _API_KEY.sub(lambda m: mask_secret(m.group(0)), text)
    return _URL_PASSWORD.sub(r"\1***@", text)


class RedactTokens(logging.Filter):
    """On a handler (logging_setup.py puts one on every handler), it cleans every record written: the
    message, the exception's traceback text, the stack and string extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in STANDARD_ATTRS and isinstance(value, str) and value:
                setattr(record, key, scrub(value))
        return True


def install() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET would inherit a DEBUG root
            logger.setLevel(logging.WARNING)
    for name in PTB_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def describe(exc: BaseException) -> str:
    """What went wrong, safe for a log line: no statement parameters, no user text, no token."""
    import sqlalchemy as sa

    name = type(exc).__name__
    if isinstance(exc, sa.exc.DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
        detail = f"{type(orig).__module__}.{type(orig).__name__}" if orig is not None else "no driver error"
        return f"{name} ({detail}{', SQLSTATE ' + code if code else ''})"
    if isinstance(exc, TelegramError):
        return f"{name}: {redact(exc.message)[:200]}"
    return name


def debug_details(log: logging.Logger, exc: BaseException, what: str, *args: object) -> None:
    """The full exception (statement parameters included) at DEBUG only."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug(what, *args, exc_info=exc)
