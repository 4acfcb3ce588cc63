"""Everything under the data folder is owner-only: database files, Redis's append-only file (it holds
emails), the secret key. The one exception is traverse-only (0711) on the folders above the embedded
PostgreSQL's data directory, whose service user must reach it when running as root."""

from __future__ import annotations

import os
import stat

import redis

from chatai.embedded import redis_url, start_redis, stop_redis
from chatai.fsperms import insecure_paths, restrict_new_files, tighten
from chatai.settings import get_settings


def test_redis_files_are_owner_only_and_tighten_fixes_old_ones(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "old.log").write_text("x")
    os.chmod(data / "old.log", 0o644)
    previous = os.umask(0o022)
    try:
        restrict_new_files()
        redis_dir = tmp_path / "r"
        start_redis(redis_dir, redis_dir / "s.sock")
        try:
            client = redis.Redis.from_url(redis_url(redis_dir / "s.sock"))
            client.set("user:email", "owner@example.com")
            client.close()
        finally:
            stop_redis(redis_dir)
        aof = [p for p in redis_dir.rglob("*") if "appendonly" in p.name and p.is_file()]
        assert aof and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in aof)
        assert insecure_paths(redis_dir) == []
        tighten(data)
        assert insecure_paths(data) == []
    finally:
        os.umask(previous)


def test_embedded_postgres_files_are_owner_only_with_traverse_only_parents():
    settings = get_settings()
    tighten(settings.data_dir, traverse=(settings.pg_data_dir,))
    assert insecure_paths(settings.data_dir, traverse=(settings.pg_data_dir,)) == []
    mode = stat.S_IMODE(settings.data_dir.stat().st_mode)
    assert mode & 0o066 == 0  # others may enter, not list or read
    assert stat.S_IMODE(settings.pg_data_dir.stat().st_mode) == 0o700



def test_a_postgres_data_dir_nested_deeper_keeps_its_way_in(tmp_path):
    """A data folder holding another one (the tests' under .data): every PostgreSQL directory inside
    stays reachable for its service user, whatever `traverse` names."""
    nested = tmp_path / "data" / "test-servers" / "postgres"
    (nested / "global").mkdir(parents=True)
    (nested / "PG_VERSION").write_text("18")
    os.chmod(nested, 0o700)
    tighten(tmp_path / "data")
    assert stat.S_IMODE((tmp_path / "data" / "test-servers").stat().st_mode) == 0o711
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o711
    assert stat.S_IMODE(nested.stat().st_mode) == 0o700
    assert insecure_paths(tmp_path / "data") == []
