#!/usr/bin/env bash
# Restore a backup made by backup.sh into the configured database (stop the app first), as the schema's
# owner (DATABASE_OWNER_URL in .env); the app's role is granted again afterwards.
# usage: deploy/restore.sh /var/backups/chatai/chatai-20261124T031500000000Z.dump
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m chatai db restore "$1"
