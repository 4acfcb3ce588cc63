"""`python -m chatai billing ...`: verify the ledger, show a balance, adjust a balance (admins on the server)."""

from __future__ import annotations

import argparse
import json

from chatai.cli_support import fail, run_async


def register(sub: argparse._SubParsersAction) -> None:
    billing = sub.add_parser("billing", help="balances and the ledger").add_subparsers(dest="action", required=True)

    check = billing.add_parser("check", help="every account's balance and reservations against its ledger")
    check.set_defaults(func=_check)

    balance = billing.add_parser("balance", help="an owner's balance")
    balance.add_argument("--email", required=True)
    balance.add_argument("--json", action="store_true", help="one JSON object")
    balance.set_defaults(func=_balance)

    adjust = billing.add_parser("adjust", help="credit (+) or debit (-) an account, with a reason (audited)")
    adjust.add_argument("--email", required=True)
    adjust.add_argument("--amount", required=True, help="in currency units, e.g. 100 or -25.50")
    adjust.add_argument("--reason", required=True)
    adjust.set_defaults(func=_adjust)


async def _user_id(session, email: str):
    import sqlalchemy as sa

    from chatai.db.models import User

    user_id = (await session.execute(sa.select(User.id).where(User.email == email.strip().lower()))).scalar()
    if user_id is None:
        fail(f"no account with email {email}")
    return user_id


def _check(args: argparse.Namespace) -> int:
    from chatai.db.session import async_session
    from chatai.services import billing

    async def go() -> int:
        async with async_session() as session:
            checked, problems = await billing.check_accounts(session)
        for problem in problems:
            print(f"MISMATCH {problem.email}: {problem.detail}")
        print(f"{checked} accounts checked, {len({p.email for p in problems})} disagree with the ledger")
        return 1 if problems else 0

    return run_async(go())


def _balance(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services import billing

    async def go() -> None:
        async with async_session() as session:
            view = await billing.get_balance(session, user_id=await _user_id(session, args.email))
        data = view.as_json(args.email.strip().lower())
        if args.json:
            print(json.dumps(data))
        else:
            left = "unlimited (answers are free)" if data["answers_left"] is None else data["answers_left"]
            print(f"{data['email']}: balance {data['balance']} {data['currency']}, reserved {data['reserved']}, "
                  f"answers left {left}")

    run_async(go())


def _adjust(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services import billing
    from chatai.services.billing import BillingError

    try:
        amount = billing.to_micros(args.amount)
    except BillingError:
        fail("--amount must be a number with at most two decimals, e.g. 100 or -25.50")
    messages = {"reason_required": "--reason must not be empty", "invalid_amount": "--amount must not be zero",
                "insufficient": "the debit is larger than the available balance"}

    async def go() -> None:
        async with async_session() as session:
            user_id = await _user_id(session, args.email)
            try:
                await billing.adjust(session, account_id=user_id, amount_micros=amount, reason=args.reason,
                                     actor_id=None, client="cli")
            except BillingError as exc:
                fail(messages.get(exc.code, exc.code))
            await session.commit()
            view = await billing.get_balance(session, user_id=user_id)
        print(f"adjusted {billing.format_amount(amount)}; balance now {billing.format_amount(view.balance_micros)} "
              f"{view.currency}")

    run_async(go())
