"""A Reflex state tree as a browser tab signed in with a session token (the token reaches handlers the
way the WebSocket handshake delivers it: by socket id, never as a state var)."""

from __future__ import annotations

import uuid

from reflex.istate.data import SessionData
from reflex.state import State

from chatai.web import session_cookie
from chatai.web.state.auth import AuthState


async def signed_in_root(token: str = "", *, client_ip: str = "") -> State:
    root = State(_reflex_internal_init=True)
    auth = await root.get_state(AuthState)
    sid = uuid.uuid4().hex
    auth.rx_router_session = SessionData(session_id=sid, client_ip=client_ip)
    session_cookie.bind(sid, token)
    return root
