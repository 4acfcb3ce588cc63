"""`python -m chatai bots business --owner EMAIL [--json]`: an owner's Telegram Business connections.

One line per connection (with --json one object per line: "bot", "connection_id", "telegram_user_id",
"name", "username", "state" (answering | cannot_reply | disabled | revoked), "can_reply", "enabled",
"revoked_at", "updated_at")."""

from __future__ import annotations

import argparse
import json

from chatai.cli_support import run_async


def add_parser(bots: argparse._SubParsersAction) -> None:
    listing = bots.add_parser("business", help="an owner's Telegram Business connections")
    listing.add_argument("--owner", required=True, help="owner's email")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> None:
    from chatai.business.connections import list_connections
    from chatai.cli.operators import _owner
    from chatai.db.session import async_session

    async def go() -> None:
        async with async_session() as session:
            rows = await list_connections(session, owner_id=await _owner(session, args.owner))
        for c in rows:
            if args.json:
                print(json.dumps({
                    "bot": c.bot_username, "connection_id": c.connection_id, "telegram_user_id": c.telegram_user_id,
                    "name": c.user_name, "username": c.username, "state": c.state, "can_reply": c.can_reply,
                    "enabled": c.enabled, "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
                    "updated_at": c.updated_at.isoformat()}, ensure_ascii=False))
            else:
                handle = f" @{c.username}" if c.username else ""
                print(f"@{c.bot_username}  {c.telegram_user_id}  {c.user_name!r}{handle}  {c.state}")
        if not rows and not args.json:
            print("no Telegram Business connections")

    run_async(go())
