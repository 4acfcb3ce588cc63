"""Signed visitor tokens: which visitor of which assistant, and on which site. Kept by the widget in the
iframe's own storage (the app's origin), so the host site gets no cookie and cannot read it. HMAC with
the app's secret key; nothing in it is secret, and a token for one assistant never opens another's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass

from chatai.security import secret_key

TOKEN_DAYS = 90  # the conversation survives page loads and new tabs for at least 30 days
_PURPOSE = b"chatai-widget-visitor:"


@dataclass(frozen=True)
class Visitor:
    assistant_id: uuid.UUID
    visitor_id: uuid.UUID
    site: str
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str) -> str:
    return _b64(hmac.new(secret_key(), _PURPOSE + payload.encode(), hashlib.sha256).digest())


def issue_token(*, assistant_id: uuid.UUID, visitor_id: uuid.UUID, site: str, now: float | None = None) -> str:
    body = {"a": str(assistant_id), "v": str(visitor_id), "s": site, "t": int(now if now is not None else time.time())}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_signature(payload)}"


def read_token(token: str, *, assistant_id: uuid.UUID, now: float | None = None) -> Visitor | None:
    """The visitor, or None: a bad signature, an expired token, or one issued for another assistant."""
    payload, _, signature = (token or "").strip().partition(".")
    if not payload or not signature or not hmac.compare_digest(signature, _signature(payload)):
        return None
    try:
        body = json.loads(_unb64(payload))
        visitor = Visitor(uuid.UUID(body["a"]), uuid.UUID(body["v"]), str(body["s"]), int(body["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    age = (now if now is not None else time.time()) - visitor.issued_at
    if visitor.assistant_id != assistant_id or age > TOKEN_DAYS * 86400 or age < -300:
        return None
    return visitor
