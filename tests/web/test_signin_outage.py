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


async def test_sign_in_while_every_password_check_is_busy_asks_to_try_again(db, monkeypatch):
    """Issue 19: beyond the pool's threads and waiting line an attempt is refused at once, with a sentence
    (English and Russian), and nothing was checked or counted."""
    import asyncio
    import threading

    from chatai.services import password_work
    from chatai.web.state.auth import AuthState

    settings = get_settings()
    monkeypatch.setattr(settings, "password_check_concurrency", 1)
    monkeypatch.setattr(settings, "password_check_queue", 0)
    password_work.reset_pool()
    started, gate = threading.Event(), threading.Event()

    def hold_the_only_thread():
        started.set()
        gate.wait()

    blocker = asyncio.create_task(password_work.pool().run("hashes", hold_the_only_thread))
    errors = {}
    try:
        await asyncio.to_thread(started.wait)
        for locale in ("en", "ru"):
            root = await signed_in_root()
            (await root.get_state(AuthState)).locale = locale
            state = await root.get_state(SignInState)
            await SignInState.handle_sign_in_submit.fn(state, {"email": "a@example.com", "password": "whatever pass"})
            errors[locale] = state.error
        checks = password_work.stats().checks
    finally:
        gate.set()
        await blocker
        password_work.reset_pool()
    assert errors["en"] == "Many sign-ins are being checked right now. Please try again in a few seconds."
    assert errors["ru"] == "Сейчас проверяется слишком много входов. Пожалуйста, повторите через несколько секунд."
    assert checks == 0
