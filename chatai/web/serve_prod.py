"""`python -m chatai.web.serve_prod`: the production server `app run` starts (in its own process group).

`reflex run --env prod` compiles the pages and creates the production build on every start (~15-60 s
on a busy machine) although nothing changed. This does the same two steps as Reflex's own commands,
but builds only when what the build depends on changed (chatai/web/build_fingerprint.py):
- build: `reflex export --frontend-only --no-zip` (compile + production build into .web/build), run in
  this process so the terminal filters of chatai/logging_setup.py apply to it;
- serve: what `reflex run --env prod` does after its build: the backend with the built frontend mounted,
  the API and the websocket on one port, workers importing the app without compiling it.
"""

from __future__ import annotations

import os
import sys

from chatai.logging_setup import quiet_framework_noise
from chatai.settings import PROJECT_ROOT, get_settings
from chatai.web import build_fingerprint

# A worker that has not stopped this long after SIGTERM is killed (chatai/web/graceful_stop.py closes the
# websockets that would otherwise hold it); below `app run`'s own grace, so it never has to kill the server.
STOP_GRACE_SECONDS = 10

BUILD_COMMAND = ["export", "--frontend-only", "--no-zip", "--env", "prod", "--loglevel", "warning"]


def build_if_changed() -> list[str]:
    """Builds when a part of the build's inputs changed; returns those parts (empty: the build was reused)."""
    from reflex.utils import path_ops, prerequisites

    settings = get_settings()
    web_dir = prerequisites.get_web_dir().resolve()
    inputs = build_fingerprint.build_inputs(PROJECT_ROOT, build_fingerprint.baked_settings(
        settings.public_url, settings.port, settings.host, os.environ))
    # Reflex's own lock on .web (its builds take it too): two starts at once build once, one after the other.
    with path_ops.file_lock(web_dir):
        changed = build_fingerprint.changed_parts(web_dir, inputs)
        if not changed:
            return []
        print(f"Building the dashboard ({', '.join(changed)}); the next start reuses the build.", flush=True)
        build_fingerprint.forget(web_dir)
        from reflex.reflex import cli

        cli.main(BUILD_COMMAND, prog_name="reflex", standalone_mode=False)  # SystemExit(1) when it fails
        build_fingerprint.remember(web_dir, inputs)
    return changed


def serve() -> None:
    """The backend with the built frontend mounted, on HOST:PORT (the steps `reflex run --env prod` takes
    after its build: reflex/reflex.py _run_prod)."""
    from reflex.istate.manager import reset_disk_state_manager
    from reflex.utils import exec as reflex_exec
    from reflex_base import constants
    from reflex_base.environment import environment

    settings = get_settings()
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_SKIP_COMPILE.set(True)  # the workers import the built app, they do not compile it
    reset_disk_state_manager()
    _bound_worker_stop()
    reflex_exec.run_backend_prod(settings.host, settings.port, constants.LogLevel.WARNING,
                                 mount_frontend_compiled_app=True)


def _bound_worker_stop() -> None:
    """Reflex constructs Granian's server without a kill timeout, and Granian then waits for a worker forever.
    Reflex looks the class up when it serves: give it one whose stop is bounded."""
    import granian.server

    base = granian.server.Server

    class BoundedStopServer(base):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("workers_kill_timeout", STOP_GRACE_SECONDS)
            super().__init__(*args, **kwargs)

    granian.server.Server = BoundedStopServer


def main() -> int:
    from reflex_base import constants
    from reflex_base.utils import console, log

    # Reflex finds rxconfig.py, the app module and .web from the working directory, as `reflex` run there.
    os.chdir(PROJECT_ROOT)
    sys.path.insert(0, str(PROJECT_ROOT))
    log.enable_managed_logging()  # what the reflex CLI does first: its log sinks, here and in the workers
    console.set_log_level(constants.LogLevel.WARNING)
    quiet_framework_noise()
    build_if_changed()
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
