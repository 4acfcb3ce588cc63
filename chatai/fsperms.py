"""Owner-only files under the data folder: database files, Redis's append-only file (it holds emails),
the secret key, Reflex's state files.

Two parts: every process of the app creates files with umask 077 (0600 files, 0700 folders), and on
start the data folder is walked once to tighten what an older version or a library left readable.
One exception, by necessity: as root, the embedded PostgreSQL runs as its own service user, which must
traverse the folders above its data directory; those get 0711 (enter, but not list or read).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
TRAVERSE_ONLY = 0o711


def restrict_new_files() -> None:
    os.umask(OWNER_ONLY_UMASK)


def tighten(root: Path, *, traverse: tuple[Path, ...] = ()) -> None:
    """Remove group/other permissions from everything under `root` (sockets excepted: they are access
    points, not data). The folders between `root` and each `traverse` target keep execute-only for
    others; the targets themselves end owner-only like the rest."""
    if not root.exists():
        return
    traverse = (*traverse, *_postgres_data_dirs(root))
    # Only the folders above each traverse target: the target itself keeps its own (PostgreSQL refuses
    # to start on a data directory that others may enter).
    top = root.resolve()
    keep_x = {a for p in traverse for a in p.resolve().parents if a == top or top in a.parents}
    for dirpath, _dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        _restrict(here, directory=True, traverse_only=here.resolve() in keep_x)
        for name in filenames:
            _restrict(here / name, directory=False, traverse_only=False)


def _postgres_data_dirs(root: Path) -> list[Path]:
    """Every PostgreSQL data directory below `root` (a data folder may hold others', like the tests')."""
    return [marker.parent for marker in root.rglob("PG_VERSION") if (marker.parent / "global").is_dir()]


def _restrict(path: Path, *, directory: bool, traverse_only: bool) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(st.st_mode) or stat.S_ISLNK(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    wanted = (mode & 0o700) | (0o011 if directory and traverse_only else 0)
    if wanted != mode:
        try:
            os.chmod(path, wanted)
        except FileNotFoundError:  # removed since the lstat (a running PostgreSQL's files come and go)
            return


def insecure_paths(root: Path, *, traverse: tuple[Path, ...] = ()) -> list[str]:
    """Paths under `root` that others can read or write (tests and `servers status` use it)."""
    allowed_x = {a for p in (*traverse, *_postgres_data_dirs(root)) for a in p.resolve().parents}
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for path in [Path(dirpath), *(Path(dirpath) / n for n in filenames)]:
            try:
                st = path.lstat()
            except FileNotFoundError:  # a running PostgreSQL removes files (pg_internal.init) as we walk
                continue
            if stat.S_ISSOCK(st.st_mode) or stat.S_ISLNK(st.st_mode):
                continue
            extra = stat.S_IMODE(st.st_mode) & 0o077
            if stat.S_ISDIR(st.st_mode) and path.resolve() in allowed_x:
                extra &= ~0o011
            if extra:
                found.append(f"{path} {oct(stat.S_IMODE(st.st_mode))}")
    return found
