"""Keep bot tokens out of logs: a token in a log line is a leaked bot.

httpx logs every request URL at INFO and a Bot API URL is /bot<token>/<method>, so its loggers
are held at WARNING. python-telegram-bot logs its base URL (with the token) at DEBUG, so its
loggers get a filter that masks anything shaped like a token.
"""

from __future__ import annotations

import logging

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
