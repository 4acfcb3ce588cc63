"""`python -m chatai operators ...`: an owner's Telegram operators (issue 22 part 1) from the shell.

`list --owner EMAIL [--json]` prints the linked accounts (with --json one object per line:
"telegram_user_id", "name", "bot", "linked_at"); `link-code --owner EMAIL --bot BOT_ID` prints a one-time
link (15 minutes, single use) that links the Telegram account opening it to that bot of that owner."""

from __future__ import annotations

import argparse
import json
import uuid

from chatai.cli_support import fail, run_async

_ERRORS = {"not_found": "the owner has no bot {bot}",
           "bot_not_ready": "bot {bot} has no Telegram username yet; start it first (python -m chatai bots ...)"}


def register(sub: argparse._SubParsersAction) -> None:
    operators = sub.add_parser("operators", help="Telegram accounts answering customers for an owner").add_subparsers(
        dest="action", required=True)
    listing = operators.add_parser("list", help="an owner's linked Telegram accounts")
    listing.add_argument("--owner", required=True, help="owner's email")
    listing.add_argument("--json", action="store_true", help="one JSON object per account per line")
    listing.set_defaults(func=_list)

    code = operators.add_parser("link-code", help="print a one-time link that links a Telegram account")
    code.add_argument("--owner", required=True, help="owner's email")
    code.add_argument("--bot", required=True, help="id of one of the owner's bots (python -m chatai bots list)")
    code.set_defaults(func=_link_code)


async def _owner(session, email: str) -> uuid.UUID:  # noqa: ANN001
    from chatai.services import inbox

    owner_id = await inbox.owner_of_email(session, email=email)
    if owner_id is None:
        fail(f"no user with email {email}")
    return owner_id


def _list(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services import operator_links

    async def go() -> None:
        async with async_session() as session:
            rows = await operator_links.list_operators(session, owner_id=await _owner(session, args.owner))
        for row in rows:
            if args.json:
                print(json.dumps(row.as_json(), ensure_ascii=False))
            else:
                handle = f" @{row.username}" if row.username else ""
                print(f"{row.telegram_user_id}  {row.name!r}{handle}  via @{row.bot_username}  "
                      f"linked {row.linked_at.isoformat(timespec='seconds')}")
        if not rows and not args.json:
            print("no linked Telegram accounts")

    run_async(go())


def _link_code(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services import operator_links

    try:
        bot_id = uuid.UUID(args.bot)
    except ValueError:
        fail(f"{args.bot!r} is not a bot id (a UUID)")

    async def go() -> None:
        async with async_session() as session:
            owner_id = await _owner(session, args.owner)
            try:
                link = await operator_links.create_link_code(session, owner_id=owner_id, bot_id=bot_id)
            except operator_links.OperatorLinkError as exc:
                fail(_ERRORS[exc.code].format(bot=bot_id))
        print(link.link)

    run_async(go())
