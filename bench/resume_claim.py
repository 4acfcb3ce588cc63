"""The runners' claim of questions a top-up handed back (services/topup_resume.claim): every runner runs it
each sweep (every few seconds) for its bots, nearly always finding nothing. Measured on a table of
telegram_updates the size of a busy installation, with migration 0016's partial index and without it
(dropped in the same run), so the ratio is measured on one machine state.

    .venv/bin/python -m bench resume_claim                  # 1,000,000 updates over 1000 bots (~1 min)
    .venv/bin/python -m bench.resume_claim --updates 200000
"""

from __future__ import annotations

import argparse
import time
import uuid

import sqlalchemy as sa

from bench.common import bench_database, percentile

BOTS = 1000
RUNS = 30

_SEED = """
INSERT INTO users (id, email, password_hash, role, locale, blocked, created_at, password_changed_at)
VALUES (:owner, 'bench-resume@example.com', '-', 'owner', 'en', false, now(), now());
INSERT INTO assistants (id, owner_id, name, system_prompt, model, temperature, greeting, language, top_k,
                        score_threshold, qa_direct_threshold, embedding_provider, handoff_enabled,
                        handoff_on_low_confidence, handoff_timeout_minutes, enabled, created_at, updated_at)
VALUES (:assistant, :owner, 'bench', '', '', 0.2, '', 'auto', 5, 0.3, 0.85, '', true, true, 15, true, now(), now());
INSERT INTO bots (id, assistant_id, owner_id, telegram_bot_id, username, token_encrypted, token_hint, mode,
                  webhook_secret, desired_state, status, last_error, runner_id, created_at, updated_at)
SELECT b, :assistant, :owner, 8000000 + i, 'bench_resume_' || i, '-', '', 'polling', '', 'running', 'running', '',
       '', now(), now()
FROM unnest(CAST(:bots AS uuid[])) WITH ORDINALITY AS t(b, i);
INSERT INTO telegram_updates (bot_id, update_id, status, received_at, answered_at)
SELECT (CAST(:bots AS uuid[]))[1 + (i % :nbots)], i, 'answered', now() - i * interval '1 second', now()
FROM generate_series(1, :n) i;
ANALYZE telegram_updates
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_database("resume_claim") as url:
        bots = [str(uuid.uuid4()) for _ in range(BOTS)]
        engine = sa.create_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            params = {"owner": uuid.uuid4(), "assistant": uuid.uuid4(), "bots": bots, "nbots": BOTS,
                      "n": args.updates}
            for statement in _SEED.split(";\n"):
                conn.execute(sa.text(statement), params)
        print(f"seeded {args.updates:,} updates over {BOTS} bots in {time.perf_counter() - started:.0f} s")
        engine.dispose()
        from chatai.cli_support import run_async

        with_index = run_async(_measure(bots))
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_telegram_updates_resuming"))
        without = run_async(_measure(bots))
        print(f"{'claim sweep (one runner, all its bots)':<44} {'p50 ms':>8} {'p95 ms':>8}")
        print(f"{'  with the partial index (0016)':<44} {with_index[0]:>8.2f} {with_index[1]:>8.2f}")
        print(f"{'  without it':<44} {without[0]:>8.2f} {without[1]:>8.2f}")
        print(f"ratio (p50 without / with): {without[0] / max(with_index[0], 1e-6):.0f}x")


async def _measure(bots: list[str]) -> tuple[float, float]:
    """p50/p95 ms of the claim a runner holding half the bots runs each sweep (nothing to claim: the usual)."""
    from chatai.db.session import get_async_engine
    from chatai.services import topup_resume

    mine = [uuid.UUID(b) for b in bots[: len(bots) // 2]]
    times = []
    async with get_async_engine().connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await topup_resume.claim(conn, bot_ids=mine)  # warm
        for _ in range(RUNS):
            started = time.perf_counter()
            assert await topup_resume.claim(conn, bot_ids=mine) == {}
            times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


if __name__ == "__main__":
    main()
