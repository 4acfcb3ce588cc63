"""Mail for accounts against a real SMTP server on 127.0.0.1 (aiosmtpd): verification and reset links that
work once, in the owner's language; a refusing or hanging SMTP server never holds up a sign-up; owner
alerts follow the per-owner preferences."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa

from chatai.db.mail_models import EmailToken, OutboxMail
from chatai.db.models import MICRO, Bot, User, UserSession, utcnow
from chatai.db.session import async_session
from chatai.services import accounts, billing, bot_events, bots, charges, mail, mailed_links, notifications
from chatai.services.accounts import AccountError
from chatai.services.mail_templates import render
from chatai.settings import get_settings
from tests.factories import make_tenant
from tests.fakes.smtp_server import SilentServer, SmtpServer, free_port
from tests.waits import PATIENCE

PASSWORD = "correct horse battery"
NEW_PASSWORD = "violet tangerine orbit"


def _point_at(monkeypatch, port: int, *, timeout: float = 5.0) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_security", "none")
    monkeypatch.setattr(settings, "smtp_timeout_seconds", timeout)
    monkeypatch.setattr(settings, "public_url", "http://chatai.test")


@pytest.fixture
def mail_on(db, smtp, monkeypatch):
    _point_at(monkeypatch, smtp.port)
    smtp.clear()
    return smtp


async def _send() -> mail.SendReport:
    async with async_session() as s:
        return await mail.send_pending(s)


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query)["token"][0]


async def _user(email: str) -> User:
    async with async_session() as s:
        return await accounts.get_user_by_email(s, email=email)


async def _queued_untried() -> int:
    """Mails in the outbox nobody tried to send yet."""
    async with async_session() as s:
        return (await s.execute(sa.select(sa.func.count()).select_from(OutboxMail)
                                .where(OutboxMail.attempts == 0, OutboxMail.sent_at.is_(None)))).scalar_one()


async def _sign_up(email: str, locale: str = "en", client: str = "10.0.0.1") -> str | None:
    async with async_session() as s:
        return await accounts.sign_up(s, email=email, password=PASSWORD, locale=locale, client=client)


async def _sign_in(email: str, password: str) -> str:
    async with async_session() as s:
        return await accounts.sign_in(s, email=email, password=password, client="10.0.0.2")


# --- verification ---------------------------------------------------------------------------------------


async def test_sign_up_mails_a_verification_link_in_the_owners_language_that_works_once(mail_on):
    assert await _sign_up("olga@example.com", locale="ru") is None  # "check your inbox", no session yet
    assert (await _user("olga@example.com")).email_verified_at is None
    assert (await _send()).sent == 1
    [received] = mail_on.to("olga@example.com")
    assert received.subject == "Подтвердите адрес электронной почты для ChatAI"
    link = received.link("/auth/verify")
    assert link.startswith("http://chatai.test/auth/verify?token=")
    assert link in received.html  # the same link as a button in the HTML part

    async with async_session() as s:
        assert await mailed_links.verify_email(s, token=_token(link))
    assert (await _user("olga@example.com")).email_verified_at is not None
    async with async_session() as s:
        assert not await mailed_links.verify_email(s, token=_token(link))  # used
        assert not await mailed_links.verify_email(s, token="forged" + _token(link)[6:])
    async with async_session() as s:  # only its hash is stored
        hashes = (await s.execute(sa.select(EmailToken.token_hash))).scalars().all()
    assert _token(link) not in hashes and len(hashes) == 1


async def test_verify_route_confirms_and_redirects(mail_on):
    import httpx

    from chatai.web.api import build_api

    await _sign_up("route@example.com")
    await _send()
    link = mail_on.to("route@example.com")[0].link("/auth/verify")
    transport = httpx.ASGITransport(app=build_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://chatai.test") as client:
        first = await client.get(urlparse(link).path + "?" + urlparse(link).query)
        again = await client.get(urlparse(link).path + "?" + urlparse(link).query)
    assert first.status_code == 303 and first.headers["location"] == "/signin?notice=email_verified"
    assert again.headers["location"] == "/signin?notice=email_link_invalid"
    assert (await _user("route@example.com")).email_verified_at is not None


async def test_sign_up_with_a_taken_email_answers_alike_and_tells_the_owner(mail_on):
    await _sign_up("taken@example.com")
    await _send()
    mail_on.clear()
    assert await _sign_up("taken@example.com", client="10.9.9.9") is None  # no "email taken"
    await _send()
    [notice] = mail_on.to("taken@example.com")
    assert "already have one" in notice.text and "/auth/verify" not in notice.text
    async with async_session() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(User))).scalar() == 1


async def test_unverified_owner_cannot_connect_a_bot_and_resend_is_rate_limited(mail_on):
    tenant = await make_tenant("unverified@example.com")
    async with async_session() as s:
        with pytest.raises(bots.BotError) as refused:
            await bots.connect_bot(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id,
                                   token="123456:" + "A" * 35)
    assert refused.value.code == "email_unverified" and "Confirm your email" in refused.value.message
    for _ in range(3):
        async with async_session() as s:
            await mailed_links.resend_verification(s, user_id=tenant.owner_id)
    async with async_session() as s:
        with pytest.raises(AccountError) as limited:
            await mailed_links.resend_verification(s, user_id=tenant.owner_id)
    assert limited.value.code == "mail_resend_rate_limited" and limited.value.retry_after > 0
    await _send()
    links = [m.link("/auth/verify") for m in mail_on.to("unverified@example.com")]
    assert len(links) == 3
    async with async_session() as s:  # only the latest link works
        assert not await mailed_links.verify_email(s, token=_token(links[0]))
        assert await mailed_links.verify_email(s, token=_token(links[-1]))


async def test_admin_created_users_are_verified(mail_on):
    async with async_session() as s:
        user = await accounts.create_user(s, email="made@example.com", password=PASSWORD, role="admin")
    assert user.email_verified_at is not None


async def test_with_no_smtp_everyone_counts_as_verified_and_reset_says_ask_the_admin(db):
    assert not mail.mail_enabled()
    token = await _sign_up("nomail@example.com")
    assert token  # signed in at once, as before
    async with async_session() as s:
        assert (await accounts.user_for_token(s, token)).email_verified
        with pytest.raises(AccountError) as off:
            await mailed_links.request_password_reset(s, email="nomail@example.com")
    assert off.value.code == "mail_off"


# --- password reset -------------------------------------------------------------------------------------


async def _reset_link(smtp: SmtpServer, email: str) -> str:
    async with async_session() as s:
        await mailed_links.request_password_reset(s, email=email, client="10.0.0.3")
    await _send()
    return smtp.to(email)[-1].link("/auth/reset")


async def test_reset_link_sets_a_password_once_and_ends_every_session(mail_on):
    async with async_session() as s:
        await accounts.create_user(s, email="reset@example.com", password=PASSWORD, locale="ru")
    old_session = await _sign_in("reset@example.com", PASSWORD)
    link = await _reset_link(mail_on, "reset@example.com")
    assert mail_on.to("reset@example.com")[-1].subject == "Восстановление пароля ChatAI"
    token = _token(link)
    async with async_session() as s:
        with pytest.raises(AccountError) as weak:  # a refused password does not use the link up
            await mailed_links.reset_password_with_token(s, token=token, new_password="short")
        assert weak.value.code == "password_too_short"
        await mailed_links.reset_password_with_token(s, token=token, new_password=NEW_PASSWORD)
    async with async_session() as s:
        assert await accounts.user_for_token(s, old_session) is None
        assert (await s.execute(sa.select(sa.func.count()).select_from(UserSession))).scalar() == 0
        with pytest.raises(AccountError) as reused:
            await mailed_links.reset_password_with_token(s, token=token, new_password="another fine phrase")
    assert reused.value.code == "mail_reset_link_invalid"
    assert await _sign_in("reset@example.com", NEW_PASSWORD)


async def test_expired_and_forged_reset_links_fail(mail_on):
    async with async_session() as s:
        await accounts.create_user(s, email="late@example.com", password=PASSWORD)
    token = _token(await _reset_link(mail_on, "late@example.com"))
    for forged in ("", "x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"), token + "x" * 200):
        async with async_session() as s:
            with pytest.raises(AccountError):
                await mailed_links.reset_password_with_token(s, token=forged, new_password=NEW_PASSWORD)
    async with async_session() as s:
        await s.execute(sa.update(EmailToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
        assert not await mailed_links.reset_link_usable(s, token=token)
        with pytest.raises(AccountError):
            await mailed_links.reset_password_with_token(s, token=token, new_password=NEW_PASSWORD)
    assert await _sign_in("late@example.com", PASSWORD)  # unchanged


async def test_reset_link_expires_after_one_hour(mail_on):
    async with async_session() as s:
        await accounts.create_user(s, email="hour@example.com", password=PASSWORD)
    await _reset_link(mail_on, "hour@example.com")
    async with async_session() as s:
        row = (await s.execute(sa.select(EmailToken).where(EmailToken.purpose == "reset"))).scalar_one()
    assert abs((row.expires_at - row.created_at) - timedelta(hours=1)) < timedelta(seconds=5)


async def test_reset_for_an_unknown_email_answers_alike_and_sends_nothing(mail_on):
    async with async_session() as s:
        await mailed_links.request_password_reset(s, email="nobody@example.com")
    assert (await _send()).sent == 0 and mail_on.to("nobody@example.com") == []


# --- a broken SMTP server -------------------------------------------------------------------------------


async def test_refusing_smtp_does_not_block_sign_up_and_is_retried_with_backoff(db, monkeypatch):
    _point_at(monkeypatch, free_port())  # nothing listens there: connection refused
    assert await _sign_up("refused@example.com") is None
    assert await _queued_untried() == 1  # sign-up only queued the mail: it never talked to SMTP
    report = await _send()
    assert report.failed == 1 and report.sent == 0
    async with async_session() as s:
        row = (await s.execute(sa.select(OutboxMail))).scalar_one()
    assert row.attempts == 1 and row.sent_at is None and row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)  # backed off, not retried at once
    assert (await _send()).failed == 0  # not due yet


async def test_hanging_smtp_does_not_block_sign_up_and_gives_up_after_the_last_try(db, monkeypatch):
    silent = SilentServer().start()
    try:
        # An SMTP wait far longer than the test: a sign-up that talked to SMTP would hang (and fail here).
        _point_at(monkeypatch, silent.port, timeout=3600)
        monkeypatch.setattr(get_settings(), "mail_max_attempts", 2)
        assert await asyncio.wait_for(_sign_up("hang@example.com"), PATIENCE) is None
        assert await _queued_untried() == 1
        _point_at(monkeypatch, silent.port, timeout=0.5)
        for _ in range(2):
            async with async_session() as s:
                await s.execute(sa.update(OutboxMail).values(next_attempt_at=utcnow()))
                await s.commit()
            report = await _send()
            assert report.failed == 1
        assert report.given_up == 1
        async with async_session() as s:
            row = (await s.execute(sa.select(OutboxMail))).scalar_one()
        assert row.failed_at is not None and row.body_encrypted == "" and "timed out" in row.last_error
    finally:
        silent.stop()


# --- templates and alerts -------------------------------------------------------------------------------


def test_templates_escape_values_in_html_and_exist_in_both_languages():
    hostile = '<script>alert(1)</script> "{link}"'
    for kind in ("verify", "reset", "signup_existing", "handoff_waiting", "balance_low", "balance_zero",
                 "payment_received", "bot_error"):
        for locale in ("en", "ru"):
            values = {k: hostile for k in ("email", "hours", "signin_link", "reset_link", "assistant", "balance",
                                           "answers", "amount", "bot", "reason", "minutes")}
            mail_ = render(kind, locale, {**values, "link": "http://chatai.test/x?a=1&b=2"})
            assert "<script>" not in mail_.html
            assert kind == "balance_zero" or "&lt;script&gt;" in mail_.html
            assert "\n" not in mail_.subject and mail_.text.strip()
    assert render("reset", "ru", {"email": "e", "link": "l"}).subject != render("reset", "en", {"email": "e",
                                                                                               "link": "l"}).subject


async def test_alerts_follow_preferences_and_each_event_mails_once(mail_on):
    tenant = await make_tenant("alerts@example.com", name="Front desk")
    async with async_session() as s:
        await billing.open_account(s, user_id=tenant.owner_id, welcome=False)
        # payment received, in the top-up's transaction; the same payment credited twice mails once
        for _ in range(2):
            await billing.credit(s, account_id=tenant.owner_id, amount_micros=500 * MICRO, kind="topup",
                                 key="topup:abc")
        await notifications.handoff_waiting(s, owner_id=tenant.owner_id, assistant_id=tenant.assistant_id)
        await notifications.set_preference(s, user_id=tenant.owner_id, kind="balance_zero", enabled=False)
        await billing.notify_balance_zero(s, owner_id=tenant.owner_id)
        await s.commit()
    await _send()
    subjects = sorted(m.subject for m in mail_on.to("alerts@example.com"))
    assert subjects == ["A customer is waiting for a person", "Payment received: ₽500.00"]
    handoff = next(m for m in mail_on.to("alerts@example.com") if "waiting" in m.subject)
    assert "Front desk" in handoff.text and "http://chatai.test/dashboard/inbox" in handoff.text


async def test_low_balance_mails_once_when_a_charge_crosses_the_threshold(mail_on):
    tenant = await make_tenant("low@example.com")
    async with async_session() as s:
        price = 5 * MICRO
        await billing.set_price(s, item="answer", channel="telegram", price_micros=price, actor_id=tenant.owner_id)
        threshold = get_settings().low_balance_answers * price
        await billing.open_account(s, user_id=tenant.owner_id, welcome=False)
        await billing.credit(s, account_id=tenant.owner_id, amount_micros=threshold + price, kind="adjustment",
                             key="seed")
        await s.commit()
    for i in range(3):  # above -> at threshold (no mail), -> below (mail), -> further below (no mail)
        async with async_session() as s:
            assert await charges.reserve(s, account_id=tenant.owner_id, key=f"k{i}", amount_micros=price) == "reserved"
            await charges.settle_charge(s, key=f"k{i}", commit=True)
            await s.commit()
    await _send()
    assert [m.subject for m in mail_on.to("low@example.com")] == ["Your ChatAI balance is running low"]


async def test_a_bot_in_error_for_five_minutes_mails_its_owner_once(mail_on):
    tenant = await make_tenant("boterr@example.com")
    async with async_session() as s:
        bot = Bot(assistant_id=tenant.assistant_id, owner_id=tenant.owner_id, telegram_bot_id=42, username="helpbot",
                  token_encrypted="-", status="error", last_error="Telegram refused the token.")
        s.add(bot)
        await s.flush()
        await bot_events.record(s, bot_id=bot.id, owner_id=tenant.owner_id, kind="error",
                                message="Telegram refused the token.", at=utcnow() - timedelta(minutes=3))
        await s.commit()
        assert await notifications.alert_stuck_bots(s) == 0  # 3 minutes: not yet
        later = utcnow() + timedelta(minutes=3)
        assert await notifications.alert_stuck_bots(s, now=later) == 1
        assert await notifications.alert_stuck_bots(s, now=later) == 0  # same episode
        await s.commit()
    await _send()
    [alert] = mail_on.to("boterr@example.com")
    assert "@helpbot" in alert.subject and "Telegram refused the token." in alert.text

