"""What the production frontend build depends on, one digest per part, so that `app run` builds only when a
part changed and a restart of an unchanged checkout serves the previous build (chatai/web/serve_prod.py).

The parts: the app's Python code (pages and state are Python: every chatai/ module is imported by the app),
rxconfig.py, assets/, the pinned frontend packages (reflex.lock/), the installed Reflex packages and
Python, and the settings baked into the build (PUBLIC_URL, PORT, HOST, and REFLEX_/VITE_ variables
other than the run-time ones below). The stamp beside the build holds only digests (a setting can be a
secret), and the build's own index page size and time: a build written by anything else since (a bare
`reflex run`, another branch's checkout) no longer matches, and is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

STAMP_NAME = "chatai-build.json"
# The page every build writes (Reflex's static output, .web/build/client).
BUILD_INDEX = Path("build") / "client" / "index.html"
# REFLEX_ variables read at run time only, or set by Reflex for its own processes: not in the build.
RUN_TIME_REFLEX_VARS = frozenset({
    "REFLEX_STATES_WORKDIR", "REFLEX_TELEMETRY_ENABLED", "REFLEX_CHECK_LATEST_VERSION", "REFLEX_REDIS_URL",
    "REFLEX_LOGLEVEL", "REFLEX_ENV_MODE", "REFLEX_SKIP_COMPILE", "REFLEX_COMPILE_CONTEXT", "REFLEX_BACKEND_ONLY",
    "REFLEX_FRONTEND_ONLY", "REFLEX_MOUNT_FRONTEND_COMPILED_APP", "REFLEX_SSR", "REFLEX_MANAGED_LOGGING",
    "REFLEX_WEB_WORKDIR", "REFLEX_BUN_PATH", "REFLEX_USE_NPM",
})
# Names a person reads when a part changed ("Building the dashboard (assets changed)").
CODE, ASSETS, PACKAGES, REFLEX, SETTINGS = "app code", "assets", "frontend packages", "Reflex version", "settings"


def _digest_files(root: Path, paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _digest_values(values: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(sorted(values.items()))).encode()).hexdigest()


def _code_files(root: Path) -> list[Path]:
    return [*(root / "chatai").rglob("*.py"), root / "rxconfig.py"]


def _asset_files(root: Path) -> list[Path]:
    # assets/external/ is written by Reflex itself while compiling (shared assets): an output, not an input.
    assets = root / "assets"
    return [p for p in assets.rglob("*") if p.is_file() and "external" not in p.relative_to(assets).parts[:1]]


def _reflex_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("reflex"):
            versions[name] = dist.version
    return versions


def baked_settings(public_url: str, port: int, host: str, environ: Mapping[str, str]) -> dict[str, str]:
    values = {"PUBLIC_URL": public_url, "PORT": str(port), "HOST": host}
    values.update({key: value for key, value in environ.items()
                   if key.startswith("VITE_") or (key.startswith("REFLEX_") and key not in RUN_TIME_REFLEX_VARS)})
    return values


def build_inputs(root: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """One digest per part the build depends on; `settings` from baked_settings()."""
    return {
        CODE: _digest_files(root, _code_files(root)),
        ASSETS: _digest_files(root, _asset_files(root)),
        PACKAGES: _digest_files(root, (p for p in (root / "reflex.lock").iterdir() if p.is_file())),
        REFLEX: _digest_values(_reflex_versions()),
        SETTINGS: _digest_values(settings),
    }


def _build_mark(web_dir: Path) -> list[int] | None:
    try:
        stat = (web_dir / BUILD_INDEX).stat()
    except FileNotFoundError:
        return None
    return [stat.st_mtime_ns, stat.st_size]


def changed_parts(web_dir: Path, inputs: Mapping[str, str]) -> list[str]:
    """The parts that changed since the build in `web_dir` was made; empty when it can be served as it is."""
    mark = _build_mark(web_dir)
    if mark is None:
        return ["no previous build"]
    try:
        stamp = json.loads((web_dir / STAMP_NAME).read_text())
    except (FileNotFoundError, ValueError):
        return ["no record of the previous build"]
    if stamp.get("build") != mark:
        return ["the build was replaced"]
    previous = stamp.get("inputs", {})
    return [part for part, digest in inputs.items() if previous.get(part) != digest]


def forget(web_dir: Path) -> None:
    """Before building: a build that fails halfway must not be served as the previous one."""
    (web_dir / STAMP_NAME).unlink(missing_ok=True)


def remember(web_dir: Path, inputs: Mapping[str, str]) -> None:
    """After a build succeeded: what it was built from, and which build that was."""
    stamp = web_dir / STAMP_NAME
    partial = stamp.with_name(f".{STAMP_NAME}.{os.getpid()}")
    partial.write_text(json.dumps({"inputs": dict(inputs), "build": _build_mark(web_dir)}))
    os.replace(partial, stamp)
