#!/usr/bin/env bash
# Nightly backup: a compressed pg_dump of the ChatAI database, keeping the last $KEEP days. Runs as the
# schema's owner (DATABASE_OWNER_URL in .env; the superuser of the embedded server).
# cron: 15 3 * * * /opt/chatai/deploy/backup.sh /var/backups/chatai
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m chatai db backup --dest "${1:-./.data/backups}" --keep-days "${KEEP:-14}"
