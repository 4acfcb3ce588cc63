"""Hands a new session from a WebSocket event to the HTTP route that sets the HttpOnly cookie.

A Reflex event cannot set an HttpOnly cookie (it answers over the WebSocket), and the session token
must not sit in Reflex state, which Reflex persists to disk or Redis. So the sign-in event stores the
token in Redis encrypted with a key derived from a random one-time ticket, and sends the browser to
`/auth/session?ticket=...`; that route takes the entry out (single use, 60 s at most) and sets the
cookie. Redis alone never holds anything replayable: without the ticket the entry cannot be decrypted.

Bound to the browser that asked (login CSRF, issue 19): a ticket in an address can be sent to anyone, and
a stranger who signs in to their own account could have a victim's browser open `/auth/session?ticket=...`
and so work in the stranger's account unawares. So the key also needs a second random value, the
`browser_key`, which reaches only the asking tab (in the event's answer over its own WebSocket) and which
that tab puts into a short-lived SameSite=Strict cookie of this site before it navigates. Another site
cannot set that cookie in the victim's browser, and the address never carries it: a ticket opened by any
other client does not decrypt, and stays usable for the browser it belongs to until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from chatai.cache import get_redis

TICKET_TTL_SECONDS = 60
_PREFIX = "auth:handover:"


@dataclass(frozen=True)
class Handover:
    ticket: str  # goes into the address of /auth/session
    browser_key: str  # goes only into a cookie of the asking browser (web/session_cookie.handover_script)


def _key(ticket: str) -> str:
    return _PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def _cipher(ticket: str, browser_key: str) -> Fernet:
    derived = hashlib.sha256(b"chatai-handover-v2:" + ticket.encode() + b"\0" + browser_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


async def issue_ticket(session_token: str) -> Handover:
    handover = Handover(ticket=secrets.token_urlsafe(32), browser_key=secrets.token_urlsafe(32))
    sealed = _cipher(handover.ticket, handover.browser_key).encrypt(session_token.encode()).decode()
    await get_redis().set(_key(handover.ticket), sealed, ex=TICKET_TTL_SECONDS)
    return handover


async def redeem_ticket(ticket: str, browser_key: str) -> str | None:
    """The session token, once, for the browser holding the ticket's browser key; None for an unknown,
    used or expired ticket, or a key of another browser (the ticket then stays for its own browser)."""
    if not ticket or len(ticket) > 100 or not browser_key or len(browser_key) > 100:
        return None
    sealed = await get_redis().get(_key(ticket))
    if not sealed:
        return None
    try:
        token = _cipher(ticket, browser_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
    # Taken out only by its own browser; GETDEL again so that two tabs racing with it get one session.
    if await get_redis().getdel(_key(ticket)) != sealed:
        return None
    return token
