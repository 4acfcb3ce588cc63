from datetime import timedelta

import pytest
from sqlalchemy import update

from chatai.db.models import UserSession, utcnow
from chatai.db.session import async_session
from chatai.services import accounts
from chatai.services.accounts import AccountError


async def _signup(email="owner@example.com", password="correct horse"):
    async with async_session() as s:
        return await accounts.sign_up(s, email=email, password=password)


async def _user(token):
    async with async_session() as s:
        return await accounts.user_for_token(s, token)


async def test_sign_up_hashes_with_argon2_and_starts_a_session(db):
    token = await _signup()
    user = await _user(token)
    assert user.email == "owner@example.com" and user.role == "owner"
    row = await _stored_user("owner@example.com")
    assert row.password_hash.startswith("$argon2id$")
    assert "correct horse" not in row.password_hash


async def _stored_user(email):
    async with async_session() as s:
        return await accounts.get_user_by_email(s, email=email)


@pytest.mark.parametrize(("email", "password", "code"), [
    ("not-an-email", "long enough", "invalid_email"),
    ("a@b.io", "short", "password_too_short"),
    ("a@b.io", "password1", "password_too_short"),
    ("a@b.io", "qwertyuiop", "password_too_common"),
    ("a@b.io", "password2024!", "password_too_common"),
    ("maria.ivanova@b.io", "Maria.Ivanova-2024", "password_contains_email"),
    ("a@b.io", "aaaaaaaaaaaa", "password_too_simple"),
    ("a@b.io", "abcdefghijklmn", "password_too_simple"),
])
async def test_sign_up_rejects_bad_input(db, email, password, code):
    with pytest.raises(AccountError) as err:
        await _signup(email, password)
    assert err.value.code == code


async def test_sign_up_rejects_duplicate_email_case_insensitively(db):
    await _signup("Dup@Example.com")
    with pytest.raises(AccountError) as err:
        await _signup("dup@example.COM")
    assert err.value.code == "email_taken"


async def test_sign_in_wrong_password_and_unknown_email_look_the_same(db):
    await _signup()
    async with async_session() as s:
        with pytest.raises(AccountError) as wrong:
            await accounts.sign_in(s, email="owner@example.com", password="wrong password")
        with pytest.raises(AccountError) as unknown:
            await accounts.sign_in(s, email="nobody@example.com", password="wrong password")
    assert wrong.value.code == unknown.value.code == "bad_credentials"


async def test_sign_in_is_rate_limited_per_email_and_client(db):
    await _signup()
    async with async_session() as s:
        for _ in range(5):
            with pytest.raises(AccountError):
                await accounts.sign_in(s, email="owner@example.com", password="nope nope", client="1.1.1.1")
        # The guessing client is refused even with the right password while the window lasts...
        with pytest.raises(AccountError) as err:
            await accounts.sign_in(s, email="owner@example.com", password="correct horse", client="1.1.1.1")
        assert err.value.code == "rate_limited" and err.value.retry_after > 0
        # ...but the owner's own browser is not: a stranger cannot lock the owner out.
        assert await accounts.sign_in(s, email="owner@example.com", password="correct horse", client="2.2.2.2")


async def test_rate_limit_of_one_email_does_not_block_another(db):
    await _signup("a@example.com")
    await _signup("b@example.com")
    async with async_session() as s:
        for _ in range(5):
            with pytest.raises(AccountError):
                await accounts.sign_in(s, email="a@example.com", password="nope nope", client="9.9.9.9")
        assert await accounts.sign_in(s, email="b@example.com", password="correct horse", client="8.8.8.8")


async def test_sign_in_is_rate_limited_per_client_across_emails(db):
    async with async_session() as s:
        for i in range(30):
            with pytest.raises(AccountError):
                await accounts.sign_in(s, email=f"u{i}@example.com", password="nope nope", client="6.6.6.6")
        with pytest.raises(AccountError) as err:
            await accounts.sign_in(s, email="fresh@example.com", password="nope nope", client="6.6.6.6")
    assert err.value.code == "rate_limited"


async def test_sign_out_ends_the_session(db):
    token = await _signup()
    async with async_session() as s:
        await accounts.sign_out(s, token=token)
    assert await _user(token) is None


async def test_expired_session_is_rejected(db):
    token = await _signup()
    async with async_session() as s:
        await s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
    assert await _user(token) is None


async def test_change_password_ends_all_other_sessions(db):
    first = await _signup()
    async with async_session() as s:
        second = await accounts.sign_in(s, email="owner@example.com", password="correct horse")
        user = await accounts.user_for_token(s, first)
        with pytest.raises(AccountError) as err:
            await accounts.change_password(s, user_id=user.id, current_password="bad", new_password="new password 1")
        assert err.value.code == "wrong_password"
        fresh = await accounts.change_password(s, user_id=user.id, current_password="correct horse",
                                               new_password="new password 1")
    assert await _user(first) is None and await _user(second) is None
    assert (await _user(fresh)).email == "owner@example.com"
    async with async_session() as s:
        assert await accounts.sign_in(s, email="owner@example.com", password="new password 1")


async def test_blocked_user_loses_sessions_and_cannot_sign_in(db):
    owner_token = await _signup()
    async with async_session() as s:
        admin = await accounts.create_user(s, email="root@example.com", password="admin password", role="admin")
        owner = await accounts.user_for_token(s, owner_token)
        admin_view = accounts.CurrentUser(id=admin.id, email=admin.email, role="admin", locale="en")
        await accounts.set_blocked(s, admin=admin_view, user_id=owner.id, blocked=True)
    assert await _user(owner_token) is None
    async with async_session() as s:
        with pytest.raises(AccountError) as err:
            await accounts.sign_in(s, email="owner@example.com", password="correct horse")
    assert err.value.code == "blocked"


async def test_only_admins_can_block(db):
    token = await _signup()
    other = await _signup("other@example.com")
    me, them = await _user(token), await _user(other)
    async with async_session() as s:
        with pytest.raises(PermissionError):
            await accounts.set_blocked(s, admin=me, user_id=them.id, blocked=True)
