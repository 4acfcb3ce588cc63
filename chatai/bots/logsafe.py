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

from telegram.error import TelegramError

from chatai.services.bots import redact

PTB_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application", "telegram.request",
               "telegram.ext.Updater")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
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
