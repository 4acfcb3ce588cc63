"""`python -m chatai users reset-password`: an admin on the server sets a new password."""

from chatai.db.session import async_session
from chatai.services import accounts
from tests.cli.test_core_cli import cli


async def _sign_in(password: str) -> str:
    async with async_session() as s:
        return await accounts.sign_in(s, email="owner@example.com", password=password, client="192.0.2.1")


async def _alive(token: str) -> bool:
    async with async_session() as s:
        return await accounts.user_for_token(s, token) is not None


async def test_reset_password_sets_it_and_ends_sessions(db):
    assert cli("users", "create", "--email", "owner@example.com", "--password", "the old password").returncode == 0
    old_session = await _sign_in("the old password")
    done = cli("users", "reset-password", "--email", "Owner@Example.com", "--password", "a brand new secret")
    assert done.returncode == 0, done.stderr
    assert "a brand new secret" not in done.stdout + done.stderr
    assert not await _alive(old_session)
    assert await _sign_in("a brand new secret")


async def test_reset_password_refuses_weak_passwords_and_unknown_emails(db):
    cli("users", "create", "--email", "owner@example.com", "--password", "the old password")
    weak = cli("users", "reset-password", "--email", "owner@example.com", "--password", "1234567890")
    assert weak.returncode == 1 and "This password is too common" in weak.stderr and "Traceback" not in weak.stderr
    ghost = cli("users", "reset-password", "--email", "ghost@example.com", "--password", "a brand new secret")
    assert ghost.returncode == 1 and "no account with this email" in ghost.stderr
    assert await _sign_in("the old password")


async def test_reset_password_prompts_when_no_password_is_given(db):
    import subprocess
    import sys

    from chatai.settings import PROJECT_ROOT

    cli("users", "create", "--email", "owner@example.com", "--password", "the old password")
    # getpass reads the terminal; without one it falls back to standard input (with a warning).
    done = subprocess.run([sys.executable, "-m", "chatai", "users", "reset-password", "--email", "owner@example.com"],  # noqa: ASYNC221
                          cwd=PROJECT_ROOT, input="typed secret pw\ntyped secret pw\n", capture_output=True,
                          text=True, timeout=120, start_new_session=True)
    assert done.returncode == 0, done.stderr
    assert await _sign_in("typed secret pw")
