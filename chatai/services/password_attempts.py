"""Every attempt that costs a password hash or check: its limits, counted before the work, and the work
itself off the event loop.

An attempt first takes a slot in its limits atomically in Redis (services/ratelimit.reserve), then the hash
or check runs in the bounded pool of services/password_work. Counting after the check (as before) let a
burst of concurrent attempts all pass the "is it over the limit?" question before any was counted. A slot
is given back only when nothing was checked (the pool was busy) or the password proved right.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from chatai.services import password_work
from chatai.services.account_errors import AccountError
from chatai.services.ratelimit import Limit, release, reserve
from chatai.settings import get_settings

BUSY = "password_checks_busy"


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins are counted three ways (README "Sign-in limits"). Only the first two refuse,
    and both only the client that failed: a stranger's failures never refuse the owner's own browser.
    The per-email count, which anyone can raise, only slows every attempt on that email down."""

    pair: Limit  # (email, client): a guesser at one account from one address
    client: Limit  # one address across many emails: credential stuffing
    email: Limit  # one email from everywhere: distributed guessing; a growing delay, never a refusal

    @classmethod
    def from_settings(cls) -> SignInLimits:
        s = get_settings()
        return cls(pair=Limit("signin-pair", s.signin_max_attempts, s.signin_window_seconds),
                   client=Limit("signin-client", s.signin_client_max_failures, s.signin_window_seconds),
                   email=Limit("signin-email", s.signin_email_slowdown_after, s.signin_email_window_seconds))


def signin_delay_seconds(email_failures: int) -> float:
    """0 up to the slowdown threshold, then 0.25 s doubling every 5 further failures, capped."""
    s = get_settings()
    over = email_failures - s.signin_email_slowdown_after
    if over < 0:
        return 0.0
    return min(0.25 * 2 ** (over / 5), s.signin_email_max_delay_seconds)


def signup_limit() -> Limit:
    s = get_settings()
    return Limit("signup-client", s.signup_max_per_client, s.signup_window_seconds)


def password_limit(purpose: str) -> Limit:
    """Per account: wrong current passwords ("password-change": a stolen session guessing it) and new
    passwords from one reset link ("password-reset"); as many as sign-in allows per pair."""
    s = get_settings()
    return Limit(purpose, s.signin_max_attempts, s.signin_window_seconds)


@asynccontextmanager
async def attempt(*slots: tuple[Limit, str], refused: str) -> AsyncIterator[None]:
    """Take a slot in every limit before the body runs, or raise AccountError(refused) with the seconds to
    wait. A body refused for a busy pool gives its slots back: nothing was checked, nothing is counted."""
    full = await reserve(*slots)
    if full:
        raise AccountError(refused, retry_after=full.retry_after)
    try:
        yield
    except AccountError as exc:
        if exc.code == BUSY:
            await release(*slots)
        raise


@asynccontextmanager
async def pool_seat() -> AsyncIterator[password_work.Seat]:
    """A place in the password pool taken before the lookup that precedes a check, so that a flood beyond
    the pool is refused before it holds a database connection; AccountError(BUSY) when there is none."""
    try:
        async with password_work.seat() as seat:
            yield seat
    except password_work.PasswordChecksBusy as exc:
        raise AccountError(BUSY) from exc


async def hash_new(password: str, seat: password_work.Seat | None = None) -> str:
    try:
        return await password_work.hash_password(password, seat)
    except password_work.PasswordChecksBusy as exc:
        raise AccountError(BUSY) from exc


async def check(password: str, password_hash: str, seat: password_work.Seat | None = None) -> bool:
    try:
        return await password_work.verify_password(password, password_hash, seat)
    except password_work.PasswordChecksBusy as exc:
        raise AccountError(BUSY) from exc


async def burn(password: str, seat: password_work.Seat | None = None) -> None:
    """The cost of a check against no account, so timing does not reveal which addresses have one."""
    try:
        await password_work.burn_password_check(password, seat)
    except password_work.PasswordChecksBusy as exc:
        raise AccountError(BUSY) from exc
