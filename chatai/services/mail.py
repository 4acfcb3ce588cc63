"""Mail over SMTP, through a queue: a page or the bot runner only writes an `outbox` row (in its own
transaction, so a rolled-back action sends nothing); a sender task in the web process (and `python -m chatai
mail send-pending`) delivers it. A slow, refusing or broken SMTP server therefore never holds up a page or a
bot: the row waits and is retried with a growing delay, and given up after MAIL_MAX_ATTEMPTS.

Bodies are encrypted in the table (a verification or reset link is a credential until used) and erased once
sent. Several senders (web workers, the CLI) can run at once: each claims rows with SKIP LOCKED and a lease,
so a mail is sent by one of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from chatai.db.mail_models import OutboxMail
from chatai.db.models import utcnow
from chatai.security import decrypt_secret, encrypt_secret
from chatai.services.mail_templates import render
from chatai.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 20
# A claimed mail is not offered to another sender for this long (covers the SMTP timeout with room).
CLAIM_LEASE = timedelta(minutes=2)
POLL_SECONDS = 2.0


def mail_enabled() -> bool:
    return bool(get_settings().smtp_host.strip())


def verification_required() -> bool:
    """Whether new owners must confirm their address: only when mail can reach them."""
    settings = get_settings()
    return mail_enabled() and settings.email_verification


def link(path: str) -> str:
    return get_settings().public_url.rstrip("/") + path


def retry_delay(attempts: int) -> timedelta:
    """After the n-th failed try: 30 s, 1 min, 2 min, ... at most 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def enqueue(session: AsyncSession, *, to: str, kind: str, locale: str, values: dict[str, str],
                  user_id: uuid.UUID | None = None, dedupe_key: str | None = None) -> bool:
    """Queue a mail in the caller's transaction (the caller commits). False when `dedupe_key` was queued
    before (one mail per event) or mail is off."""
    if not mail_enabled():
        return False
    rendered = render(kind, locale, values)
    body = encrypt_secret(json.dumps({"subject": rendered.subject, "text": rendered.text, "html": rendered.html}))
    statement = insert(OutboxMail).values(id=uuid.uuid4(), user_id=user_id, kind=kind, to_addr=to,
                                          body_encrypted=body, dedupe_key=dedupe_key, attempts=0,
                                          next_attempt_at=utcnow(), last_error="", created_at=utcnow())
    if dedupe_key:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return (await session.execute(statement.returning(OutboxMail.id))).scalar() is not None


# --- sending -----------------------------------------------------------------------------------------


def _sender_address() -> str:
    settings = get_settings()
    return settings.smtp_from.strip() or formataddr(("ChatAI", f"noreply@{settings.smtp_host.strip()}"))


def recipient(address: str) -> Address:
    """The stored address as one mailbox, its local part quoted when it must be: written raw,
    `victim+https://evil.example/x@example.com` parses as a group "victim+https:" whose one member
    `//evil.example/x@example.com` is someone else, and smtplib would send to that member."""
    local, _, domain = address.rpartition("@")
    return Address(username=local, domain=domain)


def build_message(*, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _sender_address()
    message["To"] = recipient(to)  # send_message takes the envelope recipient from this header
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=get_settings().smtp_host.strip() or None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _deliver_blocking(message: EmailMessage) -> None:
    """One SMTP conversation (runs in a thread). STARTTLS and SSL verify the server's certificate."""
    s = get_settings()
    timeout = s.smtp_timeout_seconds
    if s.smtp_security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=timeout,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
    with client:
        if s.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password.get_secret_value())
        client.send_message(message)


async def deliver(message: EmailMessage) -> None:
    """Send now; raises on any failure. The thread is bounded by the SMTP timeout (smtplib's socket
    timeout applies to every read and write), and the wait here by a little more."""
    timeout = get_settings().smtp_timeout_seconds
    async with asyncio.timeout(timeout * 3 + 5):
        await asyncio.to_thread(_deliver_blocking, message)


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int  # this round (will be retried unless given up)
    given_up: int


_CLAIM = sa.text("""
    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = :lease_until
    WHERE id IN (SELECT id FROM outbox
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= :now
                 ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, to_addr, body_encrypted, attempts, created_at
""")


def _error_summary(exc: BaseException) -> str:
    """What went wrong, for the admin: the exception's type and message (SMTP replies, socket errors); never
    the mail's content."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"[:500]


async def send_pending(session: AsyncSession, *, limit: int = BATCH) -> SendReport:
    """Claim due mails (committed at once, so a crash mid-send retries after the lease) and send them."""
    if not mail_enabled():
        return SendReport(0, 0, 0)
    now = utcnow()
    claimed = (await session.execute(_CLAIM, {"now": now, "lease_until": now + CLAIM_LEASE,
                                              "limit": limit})).all()
    await session.commit()
    claimed.sort(key=lambda row: row.created_at)  # RETURNING has no order: send in the order they were queued
    sent = failed = given_up = 0
    max_attempts = get_settings().mail_max_attempts
    for mail_id, to, body, attempts, _ in claimed:
        try:
            content = json.loads(decrypt_secret(body))
            await deliver(build_message(to=to, **content))
        except Exception as exc:  # noqa: BLE001 - any SMTP, socket or TLS failure is retried the same way
            failed += 1
            give_up = attempts >= max_attempts
            given_up += give_up
            log.warning("mail %s to a queued address failed (try %s): %s", mail_id, attempts, _error_summary(exc))
            values = {"last_error": _error_summary(exc), "next_attempt_at": utcnow() + retry_delay(attempts)}
            if give_up:
                values.update(failed_at=utcnow(), body_encrypted="")
            await session.execute(sa.update(OutboxMail).where(OutboxMail.id == mail_id).values(**values))
        else:
            sent += 1
            await session.execute(sa.update(OutboxMail).where(OutboxMail.id == mail_id)
                                  .values(sent_at=utcnow(), body_encrypted="", last_error=""))
        await session.commit()
    return SendReport(sent=sent, failed=failed, given_up=given_up)


@dataclass(frozen=True)
class OutboxStatus:
    waiting: int
    given_up: int
    last_error: str


async def outbox_status(session: AsyncSession) -> OutboxStatus:
    """For the admin overview: mails waiting, mails given up in the last day, the latest error."""
    waiting = (await session.execute(sa.select(sa.func.count()).select_from(OutboxMail).where(
        OutboxMail.sent_at.is_(None), OutboxMail.failed_at.is_(None)))).scalar_one()
    given_up = (await session.execute(sa.select(sa.func.count()).select_from(OutboxMail).where(
        OutboxMail.failed_at > utcnow() - timedelta(days=1)))).scalar_one()
    last_error = (await session.execute(sa.select(OutboxMail.last_error).where(OutboxMail.last_error != "")
                                        .order_by(OutboxMail.next_attempt_at.desc()).limit(1))).scalar() or ""
    return OutboxStatus(waiting=waiting, given_up=given_up, last_error=last_error)


async def run_mail_sender() -> None:
    """Lifespan task of the web process: send due mails every few seconds, and raise the alerts that come
    from time passing (a bot in error for a while). Never raises: a database hiccup waits for the next turn."""
    from chatai.db.session import async_session
    from chatai.services import notifications

    if not mail_enabled():
        log.info("mail is off (SMTP_HOST is empty): no sender task")
        return
    turns = 0
    while True:
        try:
            async with async_session() as session:
                report = await send_pending(session)
                if turns % 30 == 0:  # about once a minute
                    await notifications.alert_stuck_bots(session)
                    await session.commit()
            turns += 1
            if report.sent + report.failed >= BATCH:
                continue  # more are due: no pause
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.warning("mail sender turn failed", exc_info=True)
        await asyncio.sleep(POLL_SECONDS)
