"""Hands a new session from a WebSocket event to the HTTP route that sets the HttpOnly cookie.

A Reflex event cannot set an HttpOnly cookie (it answers over the WebSocket), and the session token
must not sit in Reflex state, which Reflex persists to disk or Redis. So the sign-in event stores the
token in Redis encrypted with a key derived from a random one-time ticket, and sends the browser to
`/auth/session?ticket=...`; that route takes the entry out (GETDEL: single use, 60 s at most) and sets
the cookie. Redis alone never holds anything replayable: without the ticket the entry cannot be
decrypted, and the ticket lives only in that one redirect.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken

from chatai.cache import get_redis

TICKET_TTL_SECONDS = 60
_PREFIX = "auth:handover:"


def _key(ticket: str) -> str:
    return _PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def _cipher(ticket: str) -> Fernet:
    derived = hashlib.sha256(b"chatai-handover-v1:" + ticket.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


async def issue_ticket(session_token: str) -> str:
    ticket = secrets.token_urlsafe(32)
    sealed = _cipher(ticket).encrypt(session_token.encode()).decode()
    await get_redis().set(_key(ticket), sealed, ex=TICKET_TTL_SECONDS)
    return ticket


async def redeem_ticket(ticket: str) -> str | None:
    """The session token, once; None for an unknown, used or expired ticket."""
    if not ticket or len(ticket) > 100:
        return None
    sealed = await get_redis().getdel(_key(ticket))
    if not sealed:
        return None
    try:
        return _cipher(ticket).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
