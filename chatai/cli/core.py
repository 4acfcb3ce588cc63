"""Core commands: db, users, assistants."""

from __future__ import annotations

import argparse

from chatai.cli_support import fail, run_async


def register(sub: argparse._SubParsersAction) -> None:
    # The db commands handle the schema themselves (a restore brings its own), so main() leaves it alone.
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    up = db.add_parser("upgrade", help="apply alembic migrations up to head")
    up.set_defaults(func=_db_upgrade, needs_schema=False)
    bk = db.add_parser("backup", help="pg_dump the database into a folder (keeps --keep-days of dumps)")
    bk.add_argument("--dest", default="", help="folder (default: <data dir>/backups)")
    bk.add_argument("--keep-days", type=int, default=14)
    bk.set_defaults(func=_db_backup, needs_schema=False)
    rs = db.add_parser("restore", help="restore a dump made by `db backup` (stop the app first)")
    rs.add_argument("file")
    rs.set_defaults(func=_db_restore, needs_schema=False)
    wt = db.add_parser("wait", help="wait until the database (and REDIS_URL's Redis) answer: a unit's prestart step")
    wt.add_argument("--timeout", type=float, default=60, help="seconds before giving up with exit code 1")
    wt.add_argument("--schema", action="store_true",
                    help="also wait until the schema is at this release's head (migrated by another process)")
    wt.set_defaults(func=_db_wait, needs_schema=False)

    users = sub.add_parser("users", help="accounts").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create an account")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--admin", action="store_true", help="make it a platform admin")
    create.set_defaults(func=_users_create)
    reset = users.add_parser("reset-password", help="set a new password (ends every session of the account)")
    reset.add_argument("--email", required=True)
    reset.add_argument("--password", default="", help="the new password (default: asked twice, not echoed)")
    reset.set_defaults(func=_users_reset_password)

    assistants = sub.add_parser("assistants", help="assistants").add_subparsers(dest="action", required=True)
    acreate = assistants.add_parser("create", help="create an assistant; prints its id last")
    acreate.add_argument("--owner", required=True, help="owner's email")
    acreate.add_argument("--name", required=True)
    acreate.set_defaults(func=_assistants_create)


def _db_upgrade(args: argparse.Namespace) -> None:
    from chatai.db.migrate import current_revision, upgrade

    upgrade()
    print(f"database at revision {current_revision()}")


def _db_wait(args: argparse.Namespace) -> None:
    from chatai.cli.wait import wait_for_servers

    waited = wait_for_servers(timeout=args.timeout, schema=args.schema)
    print(f"{'schema current' if args.schema else 'servers ready'} after {waited:.1f} s", flush=True)


def _db_backup(args: argparse.Namespace) -> None:
    from pathlib import Path

    from chatai.db.backup import backup
    from chatai.settings import get_settings

    dest = Path(args.dest) if args.dest else get_settings().data_dir / "backups"
    print(backup(dest, keep_days=args.keep_days))


def _db_restore(args: argparse.Namespace) -> None:
    import subprocess
    from pathlib import Path

    from chatai.db.backup import restore

    try:
        restore(Path(args.file))
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        fail(f"restore failed: {exc}")
    print(f"restored {args.file}")


def _account_error(code: str) -> str:
    """The sentence the sign-up page shows for this refusal (a person reads it, not a code)."""
    from chatai.web.i18n import text

    sentence = text("en", f"err_{code}")
    return code.replace("_", " ") if sentence == f"err_{code}" else sentence


def _users_create(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services.accounts import AccountError, create_user

    async def go() -> None:
        async with async_session() as session:
            try:
                user = await create_user(session, email=args.email, password=args.password,
                                         role="admin" if args.admin else "owner")
            except AccountError as exc:
                fail(f"Cannot create the account: {_account_error(exc.code)}")
            print(f"created {user.role} {user.email}")
            print(user.id)

    run_async(go())


def _ask_new_password() -> str:
    import getpass

    password = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != password:
        fail("the passwords do not match")
    return password


def _users_reset_password(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services.accounts import AccountError, reset_password

    password = args.password or _ask_new_password()

    async def go() -> None:
        async with async_session() as session:
            try:
                user = await reset_password(session, email=args.email, new_password=password)
            except AccountError as exc:
                reason = "there is no account with this email." if exc.code == "not_found" else _account_error(exc.code)
                fail(f"Cannot reset the password: {reason}")
            print(f"password reset for {user.email}; every session of the account ended")

    run_async(go())


def _assistants_create(args: argparse.Namespace) -> None:
    from chatai.db.session import async_session
    from chatai.services.accounts import get_user_by_email
    from chatai.services.assistants import create_assistant

    async def go() -> None:
        async with async_session() as session:
            owner = await get_user_by_email(session, email=args.owner)
            if owner is None:
                fail(f"no user with email {args.owner}")
            try:
                assistant = await create_assistant(session, owner_id=owner.id, name=args.name)
            except ValueError as exc:
                fail(str(exc))
            print(f"created assistant {assistant.name!r} for {owner.email}")
            print(assistant.id)

    run_async(go())



