"""Issue 19 (High): a flood of concurrent sign-ins neither slips past the limits nor stalls the event loop.

Every attempt takes its slot in Redis before its password is checked, so however many arrive at once, exactly
the limit's worth are checked (counted by the pool: services/password_work.stats); the checks run in threads,
so the event loop keeps serving other work while they run. Assertions are counts and orderings, never times.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from chatai.cache import get_redis
from chatai.db.models import UserSession
from chatai.db.session import async_session
from chatai.services import accounts, mailed_links, password_work
from chatai.services.accounts import AccountError, SignInLimits
from chatai.settings import get_settings

OWNER = "owner@example.com"
GOOD = "correct horse"


@pytest.fixture
def pool(monkeypatch):
    """A fresh pool with room for every attempt of a test (the limits, not the pool, must do the refusing)."""
    settings = get_settings()
    monkeypatch.setattr(settings, "password_check_concurrency", 2)
    monkeypatch.setattr(settings, "password_check_queue", 200)
    password_work.reset_pool()
    yield password_work.pool()
    password_work.reset_pool()


async def _owner(email=OWNER, password=GOOD):
    async with async_session() as s:
        return await accounts.create_user(s, email=email, password=password)


async def _sign_in(email, password, client):
    """The outcome of one attempt: a token, or the refusal's code."""
    async with async_session() as s:
        try:
            return await accounts.sign_in(s, email=email, password=password, client=client)
        except AccountError as exc:
            return exc.code


async def _sessions() -> int:
    async with async_session() as s:
        return (await s.execute(select(func.count()).select_from(UserSession))).scalar_one()


async def _wait_until(condition, *, turns: int = 10_000) -> None:
    """Yield to the loop until condition() holds. A wait, not a time assertion: the cap on turns only turns
    a hang (the condition can never hold) into a failure."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_concurrent_wrong_guesses_at_one_account_check_exactly_the_limit(db, pool):
    await _owner()
    limit = get_settings().signin_max_attempts
    checks_before = pool.stats().checks
    results = await asyncio.gather(*[_sign_in(OWNER, f"wrong guess {i}", "203.0.113.5") for i in range(25)])
    assert Counter(results) == {"bad_credentials": limit, "rate_limited": 25 - limit}
    assert pool.stats().checks - checks_before == limit


async def test_concurrent_stuffing_from_one_client_checks_exactly_the_client_limit(db, pool, monkeypatch):
    monkeypatch.setattr(get_settings(), "signin_client_max_failures", 8)
    checks_before = pool.stats().checks
    results = await asyncio.gather(*[_sign_in(f"victim{i}@example.com", "some password", "198.51.100.9")
                                     for i in range(30)])
    assert Counter(results) == {"bad_credentials": 8, "rate_limited": 22}
    assert pool.stats().checks - checks_before == 8  # unknown addresses cost a (dummy) check each too


async def test_the_right_password_among_concurrent_guesses_beyond_the_limit_does_not_sign_in(db, monkeypatch):
    """25 guesses at once, the right one arriving after the limit's worth have taken their slots while
    their checks are still waiting for the pool: refused, and no session is made."""
    settings = get_settings()
    monkeypatch.setattr(settings, "password_check_concurrency", 1)
    monkeypatch.setattr(settings, "password_check_queue", 200)
    password_work.reset_pool()
    await _owner()
    gate = threading.Event()
    blocker = asyncio.create_task(password_work.pool().run("hashes", gate.wait))  # holds the only thread
    try:
        checks_before = password_work.stats().checks
        wrong = [asyncio.create_task(_sign_in(OWNER, f"wrong guess {i}", "203.0.113.7")) for i in range(24)]
        limit = settings.signin_max_attempts
        await _wait_until(lambda: sum(task.done() for task in wrong) == 24 - limit)  # the rest hold slots
        assert password_work.stats().checks == checks_before  # none checked yet: all waiting for the thread
        assert await _sign_in(OWNER, GOOD, "203.0.113.7") == "rate_limited"
        gate.set()
        results = await asyncio.gather(*wrong)
        checks = password_work.stats().checks - checks_before
    finally:
        gate.set()
        await blocker
        password_work.reset_pool()
    assert Counter(results) == {"bad_credentials": limit, "rate_limited": 24 - limit}
    assert checks == limit
    assert await _sessions() == 0


async def test_the_event_loop_keeps_serving_while_a_flood_is_checked(db, pool):
    """Work scheduled during the flood (a Redis round trip, as every event and bot answer makes) completes
    while checks are running, over and over: the checks never hold the loop."""
    await _owner()
    flood = [asyncio.create_task(_sign_in(f"guess{i}@example.com", "wrong password", f"192.0.2.{i}"))
             for i in range(8)]
    served_during_checks = 0
    await _wait_until(lambda: pool.stats().running > 0)
    while pool.stats().running > 0:
        await get_redis().ping()
        if pool.stats().running > 0 and pool.stats().checks < 8:
            served_during_checks += 1
    results = await asyncio.gather(*flood)
    assert results == ["bad_credentials"] * 8
    assert served_during_checks >= 3


async def test_a_busy_pool_refuses_politely_and_counts_nothing(db, monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "password_check_concurrency", 1)
    monkeypatch.setattr(settings, "password_check_queue", 0)
    password_work.reset_pool()
    await _owner()
    gate = threading.Event()
    blocker = asyncio.create_task(password_work.pool().run("hashes", gate.wait))
    try:
        await _wait_until(lambda: password_work.stats().running == 1)
        assert await _sign_in(OWNER, GOOD, "203.0.113.8") == "password_checks_busy"
        async with async_session() as s:
            with pytest.raises(AccountError) as err:
                await accounts.sign_up(s, email="new@example.com", password=GOOD, client="203.0.113.8")
        assert err.value.code == "password_checks_busy"
        assert password_work.stats().refused == 2
    finally:
        gate.set()
        await blocker
        password_work.reset_pool()
    limits = SignInLimits.from_settings()
    assert await limits.pair.count(f"{OWNER}|203.0.113.8") == 0
    assert await limits.client.count("203.0.113.8") == 0
    assert await accounts.signup_limit().count("203.0.113.8") == 0
    assert len(await _sign_in(OWNER, GOOD, "203.0.113.8")) > 30  # a session token, not a refusal
    assert await _sessions() == 1


async def test_concurrent_sign_ups_from_one_client_hash_exactly_the_limit(db, pool):
    limit = get_settings().signup_max_per_client
    hashes_before = pool.stats().hashes

    async def sign_up(i):
        async with async_session() as s:
            try:
                return bool(await accounts.sign_up(s, email=f"new{i}@example.com", password=GOOD,
                                                   client="192.0.2.200"))
            except AccountError as exc:
                return exc.code

    results = await asyncio.gather(*[sign_up(i) for i in range(15)])
    assert Counter(results) == {True: limit, "signup_rate_limited": 15 - limit}
    assert pool.stats().hashes - hashes_before == limit


async def test_concurrent_wrong_current_passwords_check_exactly_the_limit(db, pool):
    user = await _owner()
    limit = get_settings().signin_max_attempts
    checks_before = pool.stats().checks

    async def change(current):
        async with async_session() as s:
            try:
                return await accounts.change_password(s, user_id=user.id, current_password=current,
                                                      new_password="a fresh new secret")
            except AccountError as exc:
                return exc.code

    results = await asyncio.gather(*[change(f"wrong {i}") for i in range(12)])
    assert Counter(results) == {"wrong_password": limit, "password_rate_limited": 12 - limit}
    assert pool.stats().checks - checks_before == limit
    assert await change(GOOD) == "password_rate_limited"  # a stolen session cannot keep guessing


async def test_a_reset_link_refused_for_a_busy_pool_still_works_afterwards(db, monkeypatch):
    """The new password is hashed before the link is used up: "try again in a few seconds" must not
    cost the owner their link."""
    from chatai.services import email_tokens

    settings = get_settings()
    monkeypatch.setattr(settings, "password_check_concurrency", 1)
    monkeypatch.setattr(settings, "password_check_queue", 0)
    password_work.reset_pool()
    user = await _owner()
    async with async_session() as s:
        token = await email_tokens.issue(s, user_id=user.id, purpose="reset")
        await s.commit()
    gate = threading.Event()
    blocker = asyncio.create_task(password_work.pool().run("hashes", gate.wait))
    try:
        await _wait_until(lambda: password_work.stats().running == 1)
        async with async_session() as s:
            with pytest.raises(AccountError) as err:
                await mailed_links.reset_password_with_token(s, token=token, new_password="a fresh new secret")
        assert err.value.code == "password_checks_busy"
    finally:
        gate.set()
        await blocker
        password_work.reset_pool()
    async with async_session() as s:
        assert await mailed_links.reset_link_usable(s, token=token)
        await mailed_links.reset_password_with_token(s, token=token, new_password="a fresh new secret")
    assert len(await _sign_in(OWNER, "a fresh new secret", "192.0.2.77")) > 30  # a session token
    assert await _sessions() == 1
