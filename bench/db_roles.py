"""What the split of database roles costs (chatai/db/roles.py): the app's work as `chatai_app` against the same
work as the superuser that owns the schema, and the owner's grant step.

    .venv/bin/python -m bench.db_roles [--rows 2000]

Ledger appends (one INSERT + COMMIT each, as a charge does) and reads of an owner's ledger run in
alternating blocks as each role on one connection each, so both see the same machine load; the figure that
matters is the ratio app/owner of the medians (1.0 = free). The grant step: `secure_app_role()` (after every
migration and restore) and its ready check (every embedded CLI command).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import sqlalchemy as sa

from bench.common import bench_database

BLOCKS = 10


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _run(rows: int) -> None:
    import os

    from chatai.db.roles import create_app_role, secure_app_role
    from chatai.db.session import EMBEDDED_APP_ROLE, reset_engines
    from chatai.embedded import postgres_url
    from chatai.settings import get_settings

    with bench_database("db_roles") as owner_url:
        settings = get_settings()
        admin = sa.create_engine(postgres_url(settings.pg_data_dir), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            create_app_role(conn, EMBEDDED_APP_ROLE)
        admin.dispose()
        database = sa.engine.make_url(owner_url).database
        os.environ["DATABASE_OWNER_URL"] = owner_url
        os.environ["DATABASE_URL"] = postgres_url(settings.pg_data_dir, database, user=EMBEDDED_APP_ROLE)
        get_settings.cache_clear()
        reset_engines()
        secure_app_role()

        engines = {"app": sa.create_engine(os.environ["DATABASE_URL"]), "owner": sa.create_engine(owner_url)}
        with engines["owner"].begin() as conn:
            account = conn.execute(sa.text(
                "INSERT INTO users (id, email, password_hash, role, locale, blocked, created_at, password_changed_at) "
                "VALUES (gen_random_uuid(), 'bench@example.com', '-', 'owner', 'en', false, now(), now()) "
                "RETURNING id")).scalar()
        append = sa.text("INSERT INTO ledger_entries (id, account_id, amount_micros, hold_micros, kind, reason, "
                         "reference, idempotency_key, balance_after_micros, created_at) VALUES "
                         "(gen_random_uuid(), :a, 1, 0, 'topup', '', '', :k, 0, now())")
        read = sa.text("SELECT amount_micros FROM ledger_entries WHERE account_id = :a "
                       "ORDER BY created_at DESC LIMIT 50")
        appends: dict[str, list[float]] = {"app": [], "owner": []}
        reads: dict[str, list[float]] = {"app": [], "owner": []}
        connections = {role: engine.connect() for role, engine in engines.items()}
        try:
            for _ in range(BLOCKS):
                for role, conn in connections.items():
                    for _ in range(rows // BLOCKS // 2):
                        started = time.perf_counter()
                        conn.execute(append, {"a": account, "k": f"bench:{uuid.uuid4()}"})
                        conn.commit()
                        appends[role].append(time.perf_counter() - started)
                        started = time.perf_counter()
                        conn.execute(read, {"a": account}).all()
                        conn.commit()
                        reads[role].append(time.perf_counter() - started)
        finally:
            for conn in connections.values():
                conn.close()
            for engine in engines.values():
                engine.dispose()

        grants, checks = [], []
        for _ in range(20):
            started = time.perf_counter()
            secure_app_role()
            grants.append(time.perf_counter() - started)
            started = time.perf_counter()
            secure_app_role(only_when_missing=True)
            checks.append(time.perf_counter() - started)
        reset_engines()

    print(f"{'what':<44} {'app ms':>8} {'owner ms':>9} {'app/owner':>10}")
    for name, samples in (("ledger append (INSERT + COMMIT), median", appends),
                          ("ledger read (50 newest rows), median", reads)):
        app, owner = _median_ms(samples["app"]), _median_ms(samples["owner"])
        print(f"{name:<44} {app:>8.2f} {owner:>9.2f} {app / owner:>10.2f}")
    print(f"secure_app_role: full grant {_median_ms(grants):.1f} ms, ready check {_median_ms(checks):.1f} ms "
          f"(median of 20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="ledger rows appended in all (half per role)")
    _run(parser.parse_args().rows)


if __name__ == "__main__":
    main()
