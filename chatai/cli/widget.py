"""`python -m chatai widget ...`: an assistant's website chat from the shell (scripts, checks).

`enable` turns the channel on with the given sites (added to those already allowed); `disable` turns it
off (the sites are kept); `snippet` prints only the embed code, so `... widget snippet --assistant ID >>
page.html` works."""

from __future__ import annotations

import argparse
import uuid

from chatai.cli_support import assistant_id_arg, fail, owner_of_assistant, run_async


def register(sub: argparse._SubParsersAction) -> None:
    widget = sub.add_parser("widget", help="the website chat widget").add_subparsers(dest="action", required=True)
    enable = widget.add_parser("enable", help="turn the website chat on and allow sites")
    enable.add_argument("--assistant", required=True, help="assistant id")
    enable.add_argument("--allow", action="append", default=[], metavar="HOST",
                        help="a site that may embed the chat (shop.example.com, *.example.com); repeatable")
    enable.set_defaults(func=_enable)
    disable = widget.add_parser("disable", help="turn the website chat off (allowed sites are kept)")
    disable.add_argument("--assistant", required=True, help="assistant id")
    disable.set_defaults(func=_disable)
    snippet = widget.add_parser("snippet", help="print the embed code for the owner's site")
    snippet.add_argument("--assistant", required=True, help="assistant id")
    snippet.set_defaults(func=_snippet)


def _save(assistant_id: uuid.UUID, **fields: object) -> list[str]:
    from chatai.db.session import async_session
    from chatai.widget.store import WidgetSettingsError, get_owned_widget, save_widget

    async def go() -> list[str]:
        async with async_session() as session:
            owner_id = await owner_of_assistant(session, assistant_id)
            current = await get_owned_widget(session, owner_id=owner_id, assistant_id=assistant_id)
            if "allowed_sites" in fields:
                fields["allowed_sites"] = [*current.allowed_sites, *fields["allowed_sites"]]
            try:
                saved = await save_widget(session, owner_id=owner_id, assistant_id=assistant_id, **fields)
            except WidgetSettingsError as error:
                from chatai.web.i18n import text

                fail(text("en", f"err_widget_{error.code}", **error.params))
            return list(saved.allowed_sites)

    return run_async(go())


def _enable(args: argparse.Namespace) -> None:
    assistant_id = assistant_id_arg(args.assistant)
    sites = _save(assistant_id, enabled=True, allowed_sites=args.allow)
    print(f"website chat on for {assistant_id}; allowed sites: {', '.join(sites) or 'none (add one with --allow)'}")


def _disable(args: argparse.Namespace) -> None:
    assistant_id = assistant_id_arg(args.assistant)
    _save(assistant_id, enabled=False)
    print(f"website chat off for {assistant_id}")


def _snippet(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.widget.store import snippet

    assistant_id = assistant_id_arg(args.assistant)

    async def go() -> None:
        async with async_session() as session:
            await owner_of_assistant(session, assistant_id)

    run_async(go())
    print(snippet(assistant_id))
