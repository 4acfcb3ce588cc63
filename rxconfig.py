"""Reflex configuration. Ports and URLs come from chatai.settings (the one settings object)."""

import os
import shutil

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from chatai.settings import PROJECT_ROOT, get_settings
from chatai.web.origin_guard import dashboard_origins
from chatai.web.worker_respawn import respawn_failed_workers

_settings = get_settings()
_bun = PROJECT_ROOT / ".tools" / "node_modules" / ".bin" / "bun"


def _use_untracked_lock_dir() -> None:
    """Reflex writes its package.json and bun.lock back into `reflex.lock/` on every build, in whichever
    format the last writer used (its own one-line JSON or bun's), so a run would change tracked files.
    It gets a working copy under the ignored .tools/ instead, refreshed from the committed pins whenever
    they change. To pin a new frontend package: copy .tools/reflex.lock/* over reflex.lock/ and commit."""
    committed, working = PROJECT_ROOT / "reflex.lock", PROJECT_ROOT / ".tools" / "reflex.lock"
    for source in committed.iterdir():
        seen = working / ".committed" / source.name  # the committed bytes the working copy started from
        if seen.exists() and seen.read_bytes() == source.read_bytes() and (working / source.name).exists():
            continue
        seen.parent.mkdir(parents=True, exist_ok=True)
        for target in (working / source.name, seen):
            partial = target.with_name(f".{target.name}.{os.getpid()}")
            shutil.copyfile(source, partial)
            os.replace(partial, target)  # atomic: several Reflex processes import this file at once
    rx.constants.Bun.ROOT_LOCKFILE_DIR = str(working)  # read as Path.cwd() / this: absolute wins


_use_untracked_lock_dir()
respawn_failed_workers()  # one dead backend worker must not stop the others (chatai/web/worker_respawn.py)

config = rx.Config(
    app_name="chatai",
    # Production mode serves the built frontend, the API and the websocket on one port.
    frontend_port=_settings.port,
    backend_port=_settings.port,
    api_url=_settings.public_url,
    backend_host=_settings.host,
    deploy_url=_settings.public_url,
    # CORS (and socket.io's own origin check) for the app's own origin only, never "*" (origin_guard.py).
    cors_allowed_origins=dashboard_origins(_settings),
    # The client address (sign-in limits, session list) comes from X-Forwarded-For only through this
    # many trusted proxies; 0 uses the socket's peer and ignores a header any client could send.
    trusted_proxy_hops=_settings.trusted_proxy_hops,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # bun comes from the npm registry into .tools (make installs it): Reflex must never download it.
    **({"bun_path": _bun} if _bun.exists() else {}),
    disable_plugins=[SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", gray_color="slate",
                                                         radius="medium"))],
)
