"""Abuse limits of the widget, per visitor and per client address (a visitor id is free to make, an address
is not): messages per minute, message length, conversations per day. Redis buckets (services/ratelimit.py),
shared by every web worker; a refusal is a sentence in the visitor's language."""

from __future__ import annotations

from chatai.services.ratelimit import Limit, Refused, reserve
from chatai.web.i18n import text

MAX_MESSAGE_CHARS = 2000
VISITOR_MESSAGES = Limit("widget_msg_visitor", max_hits=12, window_seconds=60)
ADDRESS_MESSAGES = Limit("widget_msg_address", max_hits=60, window_seconds=60)
VISITOR_CONVERSATIONS = Limit("widget_conv_visitor", max_hits=10, window_seconds=24 * 3600)
ADDRESS_CONVERSATIONS = Limit("widget_conv_address", max_hits=100, window_seconds=24 * 3600)
# Session starts (new visitor ids) per address: a script minting visitors to dodge the per-visitor limits.
ADDRESS_SESSIONS = Limit("widget_session_address", max_hits=120, window_seconds=3600)


def too_long(message: str, language: str) -> str | None:
    if len(message) > MAX_MESSAGE_CHARS:
        return text(language, "widget_panel_too_long", n=MAX_MESSAGE_CHARS)
    return None


async def take_message_slot(*, visitor_key: str, address: str, language: str) -> str | None:
    """None when the message may go on, else the sentence to show."""
    refused = await reserve((VISITOR_MESSAGES, visitor_key), (ADDRESS_MESSAGES, address))
    return _sentence(refused, language, "widget_panel_too_fast")


async def take_conversation_slot(*, visitor_key: str, address: str, language: str) -> str | None:
    refused = await reserve((VISITOR_CONVERSATIONS, visitor_key), (ADDRESS_CONVERSATIONS, address))
    return _sentence(refused, language, "widget_panel_too_many_conversations")


async def take_session_slot(*, address: str, language: str) -> str | None:
    refused = await reserve((ADDRESS_SESSIONS, address))
    return _sentence(refused, language, "widget_panel_too_fast")


def _sentence(refused: Refused | None, language: str, key: str) -> str | None:
    return None if refused is None else text(language, key)
