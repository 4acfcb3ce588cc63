"""Disaster recovery, end to end: the deploy scripts back the database up, the database is dropped and
created empty (a lost server), the restore script brings every table back row for row, and search
answers exactly as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

from chatai.settings import PROJECT_ROOT

# Tables the test fills, each with the row count it expects (every table is compared, these must not be empty).
FILLED = ("users", "billing_accounts", "ledger_entries", "assistants", "dialogs", "messages", "documents",
          "document_files", "chunks", "qa_pairs")
QUERIES = ("when is the shop open", "how long does delivery take", "can I return a parcel", "gift cards")


def _run(*command: str) -> subprocess.CompletedProcess:
    result = subprocess.run(list(command), cwd=PROJECT_ROOT, env=os.environ.copy(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return result


def _cli(*args: str) -> subprocess.CompletedProcess:
    return _run(sys.executable, "-m", "chatai", *args)


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order (vectors and bytes compare exactly as text / bytes)."""
    tables = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            columns = ", ".join(f'"{c.name}"::text' if c.type.__class__.__name__ == "VECTOR" else f'"{c.name}"'
                                for c in table.columns)
            rows = conn.exec_driver_sql(f'SELECT {columns} FROM "{table.name}"').all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
        tables["alembic_version"] = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return tables


def _search(assistant_id: str) -> list[dict]:
    run = _cli("kb", "search", "--assistant", assistant_id, "--top-k", "3", "--json", *QUERIES)
    return [json.loads(line) for line in run.stdout.splitlines()]


def _wipe_database() -> None:
    """What a lost server leaves: the database gone, then created again empty (no extension, no tables)."""
    from chatai.db.session import owner_database_url, reset_engines

    reset_engines()
    url = sa.engine.make_url(owner_database_url())
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{url.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()


def _ensure_schema() -> None:
    from chatai.db.migrate import upgrade
    from chatai.db.session import get_engine

    with get_engine().connect() as conn:
        restored = conn.exec_driver_sql("SELECT to_regclass('public.alembic_version')").scalar()
    if restored is None:
        upgrade()


def _fill(tmp_path: Path, db) -> str:
    """Real data through the real commands: an owner, a ledger, a knowledge base, Q&A and a conversation."""
    from chatai.db.models import Dialog, Message, User

    _cli("users", "create", "--email", "owner@example.com", "--password", "Backup-round-trip-42")
    assistant_id = _cli("assistants", "create", "--owner", "owner@example.com", "--name", "Shop")
    assistant_id = assistant_id.stdout.strip().splitlines()[-1]
    _cli("billing", "adjust", "--email", "owner@example.com", "--amount", "100", "--reason", "test credit")
    _cli("billing", "adjust", "--email", "owner@example.com", "--amount", "-12.50", "--reason", "test debit")
    guide = tmp_path / "guide.md"
    guide.write_text("# Opening hours\n\nThe shop is open Monday to Friday from 9 am to 6 pm.\n\n"
                     "# Delivery\n\nCouriers deliver parcels within two working days across the city.\n\n"
                     "# Returns\n\nReturns are accepted within 30 days with a receipt.\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("Parking is free for customers behind the building. Gift cards are sold at the till.")
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nDo you sell gift cards?,Yes we do.\n")
    _cli("kb", "ingest", "--assistant", assistant_id, str(guide), str(notes), str(faq))

    owner = db.exec(sa.select(User).where(User.email == "owner@example.com")).scalars().one()
    dialog = Dialog(assistant_id=assistant_id, owner_id=owner.id, channel="playground", user_name="Анна")
    db.add(dialog)
    db.flush()
    db.add_all([Message(dialog_id=dialog.id, role="user", text="Когда вы открыты?"),
                Message(dialog_id=dialog.id, role="assistant", text="9 am to 6 pm", answered_by="extractive",
                        sources=[{"document": "guide.md", "score": 0.9}])])
    db.commit()
    return assistant_id


def test_backup_wipe_restore_brings_everything_back(db, tmp_path):
    from chatai.db.session import get_engine, reset_engines

    assistant_id = _fill(tmp_path, db)
    before = _snapshot(get_engine())
    for table in FILLED:
        assert before[table], f"{table} was not filled"
    chunk_columns = [c.name for c in SQLModel.metadata.tables["chunks"].columns]
    embedding = chunk_columns.index("embedding")
    assert all(row[embedding] for row in before["chunks"]), "chunks were stored without embeddings"
    searched_before = _search(assistant_id)
    assert searched_before[0]["results"][0]["document"] == "guide.md"

    backups = tmp_path / "backups"
    dump = Path(_run("deploy/backup.sh", str(backups)).stdout.strip().splitlines()[-1])
    assert dump.parent == backups and dump.stat().st_size > 0

    db.close()
    _wipe_database()
    with get_engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").scalar() == 0

    try:
        _run("deploy/restore.sh", str(dump))
    finally:
        reset_engines()
        _ensure_schema()  # a failed restore must not leave the rest of the run without tables
    assert _snapshot(get_engine()) == before
    assert _search(assistant_id) == searched_before
    # The restored ledger is still append-only (its trigger came back with it) and still balances.
    with get_engine().connect() as conn:
        triggers = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ledger_entries'::regclass AND NOT tgisinternal").scalar()
    assert triggers >= 1
    _cli("billing", "check")  # exit 0: every balance equals its ledger


def test_backup_keeps_only_recent_dumps(db, tmp_path):
    old = tmp_path / "chatai-20200101T000000000000Z.dump"
    recent = tmp_path / "chatai-20261120T000000000000Z.dump"
    unrelated = tmp_path / "notes.txt"
    for path in (old, recent, unrelated):
        path.write_bytes(b"x")
    now = time.time()
    os.utime(old, (now - 15 * 86400, now - 15 * 86400))
    os.utime(recent, (now - 13 * 86400, now - 13 * 86400))
    os.utime(unrelated, (now - 99 * 86400, now - 99 * 86400))

    made = Path(_cli("db", "backup", "--dest", str(tmp_path), "--keep-days", "14").stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([made.name, recent.name, unrelated.name])
