"""Sign-in and sign-up limits: strangers slow down guessing but never lock the owner out."""

import pytest

from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.accounts import AccountError, SignInLimits, signin_delay_seconds
from chatai.settings import get_settings

OWNER = "owner@example.com"
GOOD = "correct horse"


async def _signup(email=OWNER, client="10.0.0.1"):
    async with async_session() as s:
        return await accounts.sign_up(s, email=email, password=GOOD, client=client)


async def _fail(email, client, password="nope nope"):
    async with async_session() as s:
        with pytest.raises(AccountError) as err:
            await accounts.sign_in(s, email=email, password=password, client=client)
    return err.value


@pytest.fixture
def small_delays(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "signin_email_slowdown_after", 3)
    monkeypatch.setattr(settings, "signin_email_max_delay_seconds", 0.6)
    return settings


async def test_strangers_failures_from_many_clients_do_not_lock_the_owner(db, small_delays):
    await _signup()
    for i in range(12):  # a distributed guess: every client fails, none reaches its own limit
        assert (await _fail(OWNER, f"203.0.113.{i}")).code == "bad_credentials"
    # Slowed down (a growing delay before each attempt on this email), not refused.
    failures = await SignInLimits.from_settings().email.count(OWNER)
    assert failures == 12 and signin_delay_seconds(failures) > 0
    async with async_session() as s:
        assert await accounts.sign_in(s, email=OWNER, password=GOOD, client="198.51.100.7")


def test_delay_grows_and_is_capped():
    s = get_settings()
    start = s.signin_email_slowdown_after
    delays = [signin_delay_seconds(start + n) for n in (-1, 0, 5, 10, 1000)]
    assert delays[0] == 0 and 0 < delays[1] < delays[2] < delays[3]
    assert delays[4] == s.signin_email_max_delay_seconds


async def test_unknown_email_is_throttled_and_slowed_like_a_real_one(db, small_delays):
    """Refusals and delays depend on the email as typed, never on whether it has an account."""
    await _signup()
    codes = {}
    for email in (OWNER, "ghost@example.com"):
        results = [(await _fail(email, "192.0.2.1")).code for _ in range(6)]
        codes[email] = results
    assert codes[OWNER] == codes["ghost@example.com"] == ["bad_credentials"] * 5 + ["rate_limited"]


async def test_credential_stuffing_from_one_client_is_refused_but_not_others(db):
    await _signup()
    limit = get_settings().signin_client_max_failures
    for i in range(limit):
        await _fail(f"victim{i}@example.com", "192.0.2.66")
    err = await _fail(OWNER, "192.0.2.66", password=GOOD)
    assert err.code == "rate_limited" and err.retry_after > 0
    async with async_session() as s:
        assert await accounts.sign_in(s, email=OWNER, password=GOOD, client="192.0.2.67")


async def test_success_clears_the_pairs_failures(db):
    await _signup()
    for _ in range(4):
        await _fail(OWNER, "192.0.2.5")
    async with async_session() as s:
        assert await accounts.sign_in(s, email=OWNER, password=GOOD, client="192.0.2.5")
    for _ in range(4):  # a fresh allowance: the owner's own typos do not add up across sign-ins
        assert (await _fail(OWNER, "192.0.2.5")).code == "bad_credentials"


async def test_sign_up_is_rate_limited_per_client(db):
    limit = get_settings().signup_max_per_client
    for i in range(limit):
        await _signup(f"new{i}@example.com", client="192.0.2.9")
    with pytest.raises(AccountError) as err:
        await _signup("one-more@example.com", client="192.0.2.9")
    assert err.value.code == "signup_rate_limited" and err.value.retry_after > 0
    assert await _signup("elsewhere@example.com", client="192.0.2.10")


async def test_refused_sign_ups_count_too(db):
    """Probing which emails exist through "email taken" uses up the allowance as well."""
    await _signup(client="192.0.2.20")
    for _ in range(get_settings().signup_max_per_client):
        with pytest.raises(AccountError):
            await _signup(client="192.0.2.21")
    with pytest.raises(AccountError) as err:
        await _signup("fresh@example.com", client="192.0.2.21")
    assert err.value.code == "signup_rate_limited"


async def test_short_password_of_an_existing_account_still_signs_in(db):
    from chatai.db.models import User
    from chatai.security import hash_password

    await _signup()
    async with async_session() as s:
        user = await accounts.get_user_by_email(s, email=OWNER)
        await s.execute(User.__table__.update().where(User.id == user.id)
                        .values(password_hash=hash_password("oldpass8")))
        await s.commit()
    async with async_session() as s:
        assert await accounts.sign_in(s, email=OWNER, password="oldpass8", client="192.0.2.30")
