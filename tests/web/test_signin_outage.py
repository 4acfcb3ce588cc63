"""During a database or Redis outage the sign-in form says so, instead of failing silently."""

from __future__ import annotations

from chatai.cache import reset_redis
from chatai.settings import get_settings
from chatai.web.pages.auth import SignInState
from tests.web.clients import signed_in_root


async def test_sign_in_during_a_redis_outage_says_temporarily_unavailable(db, monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "redis_url", f"unix://{tmp_path}/nothing.sock")
    reset_redis()
    root = await signed_in_root()
    state = await root.get_state(SignInState)
    await SignInState.handle_sign_in_submit.fn(state, {"email": "a@example.com", "password": "whatever pass"})
    reset_redis()
    assert state.error == "Sign-in is temporarily unavailable. Please try again in a minute."
