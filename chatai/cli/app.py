"""`python -m chatai app run`: what `make run` calls.

Starts the embedded servers (when no URLs are configured), applies migrations, makes sure an
admin exists, then runs the Reflex app in production mode on one port (chatai/web/serve_prod.py: the
frontend is built again only when the code, assets or baked-in settings changed). Ctrl-C and SIGTERM stop
Reflex's whole process group first, then the servers this command started; data stays for the next
start. A port already taken (a stale server) stops the start with one line.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

from chatai.cli_support import fail, run_async
from chatai.settings import PROJECT_ROOT, get_settings


def register(sub: argparse._SubParsersAction) -> None:
    app = sub.add_parser("app", help="the web app").add_subparsers(dest="action", required=True)
    run = app.add_parser("run", help="start everything and serve the dashboard")
    run.add_argument("--dev", action="store_true", help="Reflex dev mode with hot reload")
    run.set_defaults(func=_run, needs_schema=False)  # bootstrap migrates
    boot = app.add_parser("bootstrap", help="apply migrations and create the first admin")
    boot.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                      help="first wait up to SECONDS for the database and REDIS_URL's Redis (systemd prestart)")
    boot.set_defaults(func=_bootstrap, needs_schema=False)  # bootstrap migrates


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

    if getattr(args, "wait", 0) > 0:
        from chatai.cli.wait import wait_for_servers

        wait_for_servers(timeout=args.wait, as_owner=True)  # it migrates next, as the owner
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


def refuse_taken_port(host: str, port: int) -> None:
    """Serving beside a stale server would leave half the requests to the old one: say so and stop."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # SO_REUSEADDR, like the server's own socket: a port in TIME_WAIT is free, a listening one is not.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError:
        fail(f"Port {port} on {host} is already in use, perhaps by a ChatAI that is still running. "
             "Stop that process, or set PORT to a free port.")
    finally:
        probe.close()


# How long a requested stop may take before what is left is killed (systemd's TimeoutStopSec is 30).
STOP_GRACE_SECONDS = 20


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(child: subprocess.Popen, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the child's whole group (Reflex, its Granian workers, bun) and wait until every one is
    gone, so the port is free when this returns; what has not stopped after `grace` seconds is killed."""
    pgid = child.pid  # start_new_session: the child leads its own group
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        child.poll()  # reap the leader, or it would count as alive
        if not _group_alive(pgid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    refuse_taken_port(settings.host, settings.port)
    _bootstrap(args)
    if args.dev:
        command = [sys.executable, "-m", "reflex", "run", "--loglevel", "warning", "--env", "dev"]
    else:  # builds only when the build's inputs changed, then serves it (chatai/web/serve_prod.py)
        command = [sys.executable, "-m", "chatai.web.serve_prod"]
    child: subprocess.Popen | None = None
    stop_requested_at: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        # Ctrl-C reaches the child's group from the terminal only when it shares ours; it does not
        # (start_new_session), so both signals are forwarded the same way.
        if not stop_requested_at:
            stop_requested_at.append(time.monotonic())
        if child is not None and child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=reflex_environment(), start_new_session=True)
        print(f"ChatAI is starting at {settings.public_url} (Ctrl-C to stop)", flush=True)
        code = _wait_for_server(child, stop_requested_at)
    finally:
        if child is not None:
            stop_process_group(child)
    if code is None:  # asked to stop, and what it did not finish in time was killed: stopped all the same
        print(f"warning: the server had not stopped {STOP_GRACE_SECONDS} s after the stop request; "
              "it was killed.", file=sys.stderr, flush=True)
        code = 0
    print("ChatAI stopped.", flush=True)
    return 0 if code in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else code


def _wait_for_server(child: subprocess.Popen, stop_requested_at: list[float]) -> int | None:
    """The server's exit code; None when a stop was requested and it is still running STOP_GRACE_SECONDS
    later (the caller kills its group): a stop asked for always ends, whatever holds the server."""
    while True:
        try:
            return child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stop_requested_at and time.monotonic() - stop_requested_at[0] > STOP_GRACE_SECONDS:
                return None
