"""`python -m chatai bots ...`: connect a bot, list bots, run the bot runner as its own process."""

from __future__ import annotations

import argparse
import uuid

from chatai.cli_support import fail, run_async

LIST_PAGE = 500


def register(sub: argparse._SubParsersAction) -> None:
    bots = sub.add_parser("bots", help="Telegram bots").add_subparsers(dest="action", required=True)

    connect = bots.add_parser("connect", help="connect a bot to an assistant (the assistant's owner owns it)")
    connect.add_argument("--assistant", required=True, help="assistant id")
    connect.add_argument("--token", required=True, help="the token from @BotFather")
    connect.set_defaults(func=_connect)

    listing = bots.add_parser("list", help="every bot of the platform with its status, in connection order")
    listing.add_argument("--page-size", type=int, default=LIST_PAGE, help=argparse.SUPPRESS)
    listing.set_defaults(func=_list)

    from chatai.cli import business  # Telegram Business connections (issue 22 part 2)

    business.add_parser(bots)

    run = bots.add_parser("run", help="run all bots (or this process's share) until SIGINT/SIGTERM")
    run.add_argument("--poll-timeout", type=int, default=25, help="long-poll seconds")
    run.add_argument("--lease-ttl", type=float, default=15.0, help="seconds before a dead runner's bots move")
    run.set_defaults(func=_run)


def _connect(args: argparse.Namespace) -> None:
    from chatai.db.models import Assistant
    from chatai.db.session import async_session
    from chatai.services.bots import BotError, connect_bot

    try:
        assistant_id = uuid.UUID(args.assistant)
    except ValueError:
        fail("--assistant must be an assistant id (a UUID)")

    async def go() -> None:
        async with async_session() as session:
            assistant = await session.get(Assistant, assistant_id)
            if assistant is None:
                fail(f"no assistant {assistant_id}")
            try:
                bot = await connect_bot(session, owner_id=assistant.owner_id, assistant_id=assistant_id,
                                        token=args.token)
            except BotError as exc:
                fail(exc.message)
            print(f"connected @{bot.username} to assistant {assistant.name!r}")
            print(bot.id)

    run_async(go())


def _list(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services.bots import list_bots_page

    async def go() -> None:
        # Page by page (keyset, LIST_PAGE rows a query), printed as they come: 10,000 bots start printing at
        # once and never sit in memory together.
        after, shown = "", 0
        while True:
            async with async_session() as session:
                page = await list_bots_page(session, owner_id=None, after=after, limit=args.page_size)
            for v in page.views:
                poll = v.last_poll_at.isoformat(timespec="seconds") if v.last_poll_at else "-"
                error = f"  error: {v.last_error}" if v.status == "error" and v.last_error else ""
                print(f"{v.id}  @{v.username:<24} {v.status:<9} want={v.desired_state:<8} {v.mode:<8} "
                      f"token={v.token_hint}  assistant={v.assistant_name!r}  last_poll={poll}{error}")
            shown += len(page.views)
            if not page.next_after:
                break
            after = page.next_after
        if not shown:
            print("no bots")

    run_async(go())


def _run(args: argparse.Namespace) -> None:
    from chatai.bots.runner import BotRunner, run_forever

    run_async(run_forever(BotRunner(poll_timeout=args.poll_timeout, lease_ttl=args.lease_ttl)))
