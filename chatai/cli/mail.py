"""`python -m chatai mail ...`: the mail queue from the shell (services/mail.py)."""

from __future__ import annotations

import argparse

from chatai.cli_support import fail, run_async


def register(sub: argparse._SubParsersAction) -> None:
    mail = sub.add_parser("mail", help="the outgoing mail queue").add_subparsers(dest="action", required=True)
    send = mail.add_parser("send-pending", help="send the mails that are due now (the web process does this "
                                                "every few seconds); exit 1 when one failed")
    send.add_argument("--limit", type=int, default=100)
    send.set_defaults(func=_send_pending)


def _send_pending(args: argparse.Namespace) -> int:
    from chatai.db.session import async_session
    from chatai.services import mail

    if not mail.mail_enabled():
        fail("mail is off: set SMTP_HOST (and SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_SECURITY)")

    async def send() -> mail.SendReport:
        async with async_session() as session:
            return await mail.send_pending(session, limit=args.limit)

    report = run_async(send())
    print(f"sent {report.sent}, failed {report.failed} (given up {report.given_up})")
    return 1 if report.failed else 0
