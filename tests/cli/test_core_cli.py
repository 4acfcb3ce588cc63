"""The CLI runs as its own process with the same settings (the test run's database and Redis)."""

import subprocess
import sys
import uuid

from sqlmodel import select

from chatai.db.models import Assistant, User
from chatai.settings import PROJECT_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatai", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_db_upgrade_is_idempotent(db):
    result = cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout


def test_users_and_assistants_create(db):
    created = cli("users", "create", "--email", "Owner@Example.com", "--password", "long password")
    assert created.returncode == 0, created.stderr
    admin = cli("users", "create", "--email", "root@example.com", "--password", "long password", "--admin")
    assert admin.returncode == 0, admin.stderr
    made = cli("assistants", "create", "--owner", "owner@example.com", "--name", "Support")
    assert made.returncode == 0, made.stderr
    assistant_id = uuid.UUID(made.stdout.strip().splitlines()[-1])

    users = {u.email: u for u in db.exec(select(User)).all()}
    assert users["owner@example.com"].role == "owner"
    assert users["root@example.com"].role == "admin"
    assert users["owner@example.com"].password_hash.startswith("$argon2")
    assistant = db.get(Assistant, assistant_id)
    assert assistant.name == "Support" and assistant.owner_id == users["owner@example.com"].id


def test_cli_errors_are_clear_and_non_zero(db):
    cli("users", "create", "--email", "dup@example.com", "--password", "long password")
    again = cli("users", "create", "--email", "dup@example.com", "--password", "long password")
    assert again.returncode == 1 and "An account with this email already exists." in again.stderr
    weak = cli("users", "create", "--email", "weak@example.com", "--password", "short")
    assert weak.returncode == 1 and "The password must be at least 10 characters long." in weak.stderr
    missing = cli("assistants", "create", "--owner", "ghost@example.com", "--name", "X")
    assert missing.returncode == 1 and "no user with email ghost@example.com" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_first_admin_bootstrap_creates_exactly_one(db):
    first = cli("app", "bootstrap")
    assert first.returncode == 0, first.stderr
    assert "First admin created" in first.stdout
    second = cli("app", "bootstrap")
    assert "First admin created" not in second.stdout
    assert len([u for u in db.exec(select(User)).all() if u.role == "admin"]) == 1


def test_backup_and_restore_round_trip(db, tmp_path):
    assert cli("users", "create", "--email", "kept@example.com", "--password", "long password").returncode == 0
    made = cli("db", "backup", "--dest", str(tmp_path))
    assert made.returncode == 0, made.stderr
    dump = made.stdout.strip().splitlines()[-1]
    assert dump.endswith(".dump") and (tmp_path / dump.rsplit("/", 1)[-1]).stat().st_size > 0

    assert cli("users", "create", "--email", "after@example.com", "--password", "long password").returncode == 0
    restored = cli("db", "restore", dump)
    assert restored.returncode == 0, restored.stderr
    db.expire_all()
    emails = {u.email for u in db.exec(select(User)).all()}
    assert "kept@example.com" in emails and "after@example.com" not in emails

    missing = cli("db", "restore", str(tmp_path / "nope.dump"))
    assert missing.returncode == 1 and "no backup file" in missing.stderr


def test_bootstrap_purges_expired_sessions(db):
    from datetime import timedelta

    from chatai.db.models import UserSession, utcnow

    user = User(email="old@example.com", password_hash="-")
    db.add(user)
    db.commit()
    db.add_all([UserSession(user_id=user.id, token_hash="a" * 64, expires_at=utcnow() - timedelta(hours=1)),
                UserSession(user_id=user.id, token_hash="b" * 64, expires_at=utcnow() + timedelta(hours=1))])
    db.commit()
    assert cli("app", "bootstrap").returncode == 0
    db.expire_all()
    assert [s.token_hash for s in db.exec(select(UserSession)).all()] == ["b" * 64]
