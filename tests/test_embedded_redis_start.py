"""The embedded redis is ready when start_redis returns: it listens while it reads its append-only file back
and answers LOADING meanwhile, so the first commands of a process started right after it used to fail."""

from __future__ import annotations

import redis

from chatai.embedded import redis_url, start_redis, stop_redis

KEYS = 300_000


def _append_only_file(path, keys: int) -> None:
    """What redis 6 writes for `keys` SETs (its append-only file is the commands, in its wire format)."""
    value = "v" * 40
    with open(path, "w") as out:
        out.write("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
        for n in range(keys):
            key = f"k{n}"
            out.write(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n${len(value)}\r\n{value}\r\n")


def test_commands_work_as_soon_as_start_returns_with_much_data_to_read_back(tmp_path):
    redis_dir = tmp_path / "r"
    redis_dir.mkdir(mode=0o700)
    _append_only_file(redis_dir / "appendonly.aof", KEYS)
    start_redis(redis_dir, redis_dir / "s.sock")
    try:
        client = redis.Redis.from_url(redis_url(redis_dir / "s.sock"))
        try:
            assert client.dbsize() == KEYS  # no "Redis is loading the dataset in memory"
            # A second process finding it running is ready as well.
            assert start_redis(redis_dir, redis_dir / "s.sock") is False
            assert client.get("k0") == b"v" * 40
        finally:
            client.close()
    finally:
        stop_redis(redis_dir)
