"""`python -m chatai app run`: what `make run` calls.

Starts the embedded servers (when no URLs are configured), applies migrations, makes sure an
admin exists, then runs the Reflex app in production mode on one port. Ctrl-C stops Reflex
first, then the servers this command started; data stays for the next start.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys

from chatai.cli_support import run_async
from chatai.settings import PROJECT_ROOT, get_settings


def register(sub: argparse._SubParsersAction) -> None:
    app = sub.add_parser("app", help="the web app").add_subparsers(dest="action", required=True)
    run = app.add_parser("run", help="start everything and serve the dashboard")
    run.add_argument("--dev", action="store_true", help="Reflex dev mode with hot reload")
    run.set_defaults(func=_run)
    boot = app.add_parser("bootstrap", help="apply migrations and create the first admin")
    boot.set_defaults(func=_bootstrap)


def purge_sessions() -> int:
    """Expired sessions are refused at once; this only keeps the table from growing forever."""
    from chatai.db.session import async_session
    from chatai.services.accounts import purge_expired_sessions

    async def go() -> int:
        async with async_session() as session:
            return await purge_expired_sessions(session)

    return run_async(go())


def ensure_admin() -> str | None:
    """Creates the first admin when there is none. Returns the generated password, if any."""
    from chatai.db.session import async_session
    from chatai.services.accounts import count_admins, create_user

    settings = get_settings()

    async def go() -> str | None:
        async with async_session() as session:
            if await count_admins(session) > 0:
                return None
            password = settings.admin_password.get_secret_value() or secrets.token_urlsafe(12)
            await create_user(session, email=settings.admin_email, password=password, role="admin")
            return None if settings.admin_password.get_secret_value() else password

    return run_async(go())


def _bootstrap(args: argparse.Namespace) -> None:
    from chatai.db.migrate import upgrade

    upgrade()
    purge_sessions()
    generated = ensure_admin()
    if generated:
        settings = get_settings()
        # Printed once, on the terminal of whoever installed the platform; never logged.
        print(f"\n  First admin created: {settings.admin_email} / {generated}\n"
              "  Change this password after signing in (Settings).\n", flush=True)


def reflex_environment() -> dict[str, str]:
    """The environment for the Reflex child: the project's bun, no telemetry, no network probes."""
    env = dict(os.environ)
    env["PATH"] = f"{PROJECT_ROOT / '.tools' / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    # Reflex's state files hold what users see (emails, names): under the data folder, owner-only.
    env.setdefault("REFLEX_STATES_WORKDIR", str(get_settings().data_dir / "web-states"))
    if "NPM_CONFIG_REGISTRY" not in env and shutil.which("npm"):
        # Reflex otherwise probes public registries to pick one: use the one npm is set up with.
        registry = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True)
        if registry.returncode == 0 and registry.stdout.strip():
            env["NPM_CONFIG_REGISTRY"] = registry.stdout.strip()
    # One backend worker on a single machine: it also hosts the bot runner and the ingest worker.
    if not get_settings().redis_url:
        env.setdefault("GRANIAN_WORKERS", "1")
    return env


def _run(args: argparse.Namespace) -> int:
    _bootstrap(args)
    settings = get_settings()
    command = [sys.executable, "-m", "reflex", "run", "--loglevel", "warning"]
    command += ["--env", "dev"] if args.dev else ["--env", "prod", "--backend-host", settings.host]
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=reflex_environment(), start_new_session=True)
    print(f"ChatAI is starting at {settings.public_url} (Ctrl-C to stop)", flush=True)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = child.wait()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    # Workers of the child's group may outlive it briefly; make sure nothing keeps the port.
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    print("ChatAI stopped.", flush=True)
    return 0 if code in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else code
