"""`python -m chatai dialogs ...`: the inbox from the shell (list an owner's dialogs, show one).

With --json every line is one JSON object, so scripts and checks can read the inbox."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

from chatai.cli_support import fail, run_async


def register(sub: argparse._SubParsersAction) -> None:
    dialogs = sub.add_parser("dialogs", help="conversations (the inbox)").add_subparsers(dest="action",
                                                                                       required=True)
    listing = dialogs.add_parser("list", help="an owner's dialogs, most recent activity first")
    listing.add_argument("--owner", required=True, help="owner's email")
    listing.add_argument("--status", choices=["ai", "waiting", "human"], help="only dialogs in this state")
    listing.add_argument("--channel", choices=["telegram", "web", "playground", "business"],
                         help="only dialogs of this channel")
    listing.add_argument("--limit", type=int, default=0, help="at most this many (default: all)")
    listing.add_argument("--json", action="store_true", help="one JSON object per dialog per line")
    listing.set_defaults(func=_list)

    show = dialogs.add_parser("show", help="one dialog with its messages")
    show.add_argument("id", help="dialog id")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=_show)


def _dialog_json(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "status": row.status, "channel": row.channel, "bot": row.bot_username,
            "assistant": row.assistant_name, "user_name": row.user_name,
            "last_message_at": row.last_message_at.isoformat(), "messages": row.messages, "unread": row.unread}


def _list(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services import inbox

    async def go() -> None:
        async with async_session() as session:
            owner_id = await inbox.owner_of_email(session, email=args.owner)
            if owner_id is None:
                fail(f"no user with email {args.owner}")
            filters = inbox.InboxFilter(status=args.status or "", channel=args.channel or "")
            cursor, printed = None, 0
            while True:
                page = await inbox.list_dialogs(session, owner_id=owner_id, filters=filters, cursor=cursor,
                                                limit=inbox.MAX_PAGE_SIZE)
                for row in page.rows:
                    if args.limit and printed >= args.limit:
                        return
                    printed += 1
                    if args.json:
                        print(json.dumps(_dialog_json(row), ensure_ascii=False))
                    else:
                        who = row.user_name or "-"
                        where = f"@{row.bot_username}" if row.bot_username else row.channel
                        print(f"{row.id}  {row.status:<8} {where:<24} {who!r:<24} "
                              f"{row.last_message_at.isoformat(timespec='seconds')}  messages={row.messages}")
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            if not printed and not args.json:
                print("no dialogs")

    run_async(go())


def _show(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services import inbox

    try:
        dialog_id = uuid.UUID(args.id)
    except ValueError:
        fail(f"{args.id!r} is not a dialog id (a UUID)")

    async def go() -> None:
        async with async_session() as session:
            owner_id = await inbox.owner_of_dialog(session, dialog_id=dialog_id)
            if owner_id is None:
                fail(f"no dialog {dialog_id}")
            tr = await inbox.get_transcript(session, owner_id=owner_id, dialog_id=dialog_id, limit=100_000)
        if args.json:
            print(json.dumps({**_dialog_json(tr.dialog), "messages": [
                {"role": m.role, "text": m.text, "answered_by": m.answered_by, "created_at": m.created_at.isoformat(),
                 "operator": m.operator_email, "sources": m.sources, "delivery_status": m.delivery_status}
                for m in tr.messages]}, ensure_ascii=False, default=str))
            return
        d = tr.dialog
        where = "playground" if d.channel == "playground" else f"@{d.bot_username}"
        print(f"{d.id}  {d.status}  {where}  {d.user_name!r}  assistant={d.assistant_name!r}")
        for m in tr.messages:
            by = f" [{m.answered_by}]" if m.answered_by else ""
            who = f" {m.operator_email}" if m.operator_email else ""
            print(f"{m.created_at.isoformat(timespec='seconds')}  {m.role}{who}{by}: {m.text}")

    run_async(go())
