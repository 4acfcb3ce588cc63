"""What the inbox tools (issue 23) add to the inbox's work, measured in one run on one seeded business:

    .venv/bin/python -m bench.inbox_tools [--dialogs 30000]

- the inbox list with a label filter against the same list without one (p50/p95, and the ratio);
- the labels of one listed page (one query for 50 dialogs);
- opening a dialog: the transcript alone against the transcript plus everything the tools load beside it
  (notes merged in, its labels, the customer card, who holds it), and the ratio;
- "is typing": keystrokes against Redis publishes (the throttle), and the cost of one keystroke's check.
Seeding reuses bench.inbox_queries (10 messages per dialog), then puts one label on 5 % of the dialogs, one on
0.1 %, 18 others on 2 % each, writes 2 notes on 5 % of them and a customer note for 1 % of the customers.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import sqlalchemy as sa

from bench.common import bench_database, percentile
from bench.inbox_queries import _seed

RUNS = 40
KEYSTROKES = 200

_TOOLS_SEED = """
INSERT INTO inbox_labels (id, owner_id, name, color, created_at)
SELECT gen_random_uuid(), :owner, 'label ' || lpad(i::text, 2, '0'), 'blue', now() FROM generate_series(1, 20) i;
INSERT INTO dialog_labels (dialog_id, label_id, created_at)
SELECT d.id, l.id, now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM dialogs WHERE owner_id = :owner) d
JOIN (SELECT id, row_number() OVER (ORDER BY name) AS k FROM inbox_labels WHERE owner_id = :owner) l
  ON (l.k = 1 AND d.n % 20 = 0) OR (l.k = 2 AND d.n % 1000 = 1) OR (l.k > 2 AND d.n % 50 = l.k);
INSERT INTO dialog_notes (id, owner_id, dialog_id, author_id, author_name, text, created_at)
SELECT gen_random_uuid(), :owner, d.id, NULL, 'bench@example.com', 'note ' || k, d.last_message_at
FROM dialogs d, generate_series(1, 2) k WHERE d.owner_id = :owner AND d.telegram_chat_id % 20 = 0;
INSERT INTO customer_notes (id, owner_id, customer_key, author_id, author_name, text, created_at)
SELECT gen_random_uuid(), :owner, 'tg:' || u, NULL, 'bench@example.com', 'prefers calls', now()
FROM (SELECT DISTINCT telegram_user_id AS u FROM dialogs WHERE owner_id = :owner AND telegram_user_id % 100 = 0) c;
ANALYZE dialog_labels;
ANALYZE inbox_labels;
ANALYZE dialog_notes;
ANALYZE customer_notes
"""


def _seed_tools(url: str, owner: uuid.UUID) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in _TOOLS_SEED.split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement), {"owner": owner} if ":owner" in statement else {})
        counts = conn.exec_driver_sql("SELECT (SELECT count(*) FROM dialog_labels), (SELECT count(*) FROM dialog_notes)"
                                      ).one()
    engine.dispose()
    print(f"labelled {counts[0]:,} dialogs, {counts[1]:,} notes")


async def _timed(run, runs: int = RUNS) -> tuple[float, float]:
    await run(0)
    times = []
    for i in range(runs):
        started = time.perf_counter()
        await run(i)
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


async def _measure(owner: uuid.UUID) -> None:
    from chatai.db.session import async_session
    from chatai.inbox_tools import access, customers, labels, notes, presence
    from chatai.services import inbox

    async with async_session() as s:
        common, rare = [(await s.execute(sa.text("SELECT id FROM inbox_labels WHERE owner_id = :o AND name = :n"),
                                         {"o": owner, "n": name})).scalar_one() for name in ("label 01", "label 02")]
        dialog_ids = [r[0] for r in (await s.execute(sa.text(
            "SELECT id FROM dialogs WHERE owner_id = :o AND telegram_chat_id % 20 = 0 ORDER BY random() LIMIT :n"),
            {"o": owner, "n": RUNS}))]
        page = [r.id for r in (await inbox.list_dialogs(s, owner_id=owner)).rows]
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'query':<52} {'p50 ms':>8} {'p95 ms':>8}")

    async def show(name: str, run) -> tuple[float, float]:
        async with async_session() as s:
            p50, p95 = await _timed(lambda i: run(s, i))
        print(f"{name:<52} {p50:>8.1f} {p95:>8.1f}", flush=True)
        return p50, p95

    plain = await show("inbox list, first page, no filter", lambda s, i: inbox.list_dialogs(s, owner_id=owner))
    by_common = await show("inbox list, label on ~5 % of dialogs", lambda s, i: inbox.list_dialogs(
        s, owner_id=owner, filters=inbox.InboxFilter(label_id=common)))
    by_rare = await show("inbox list, label on ~0.1 % of dialogs", lambda s, i: inbox.list_dialogs(
        s, owner_id=owner, filters=inbox.InboxFilter(label_id=rare)))
    await show("labels of one listed page (50 dialogs)", lambda s, i: labels.labels_of_dialogs(
        s, owner_id=owner, dialog_ids=page))
    alone = await show("open a dialog: transcript alone", lambda s, i: inbox.get_transcript(
        s, owner_id=owner, dialog_id=dialog_ids[i]))

    async def with_tools(s, i):
        await inbox.get_transcript(s, owner_id=owner, dialog_id=dialog_ids[i])
        await notes.list_dialog_notes(s, owner_id=owner, dialog_id=dialog_ids[i])
        await labels.list_labels(s, owner_id=owner)
        await labels.labels_of_dialogs(s, owner_id=owner, dialog_ids=[dialog_ids[i]])
        await customers.customer_card(s, owner_id=owner, dialog_id=dialog_ids[i])
        await access.dialog_holder(s, owner_id=owner, dialog_id=dialog_ids[i])

    tools = await show("open a dialog: transcript + notes, labels, card, holder", with_tools)

    async def live_refresh(s, i):  # the same dialog again, held by nobody else: only its notes are re-read
        await inbox.get_transcript(s, owner_id=owner, dialog_id=dialog_ids[i])
        await notes.list_dialog_notes(s, owner_id=owner, dialog_id=dialog_ids[i])

    refresh = await show("live refresh of an open dialog: transcript + notes", live_refresh)
    print(f"ratios (p50): label filter {by_common[0] / plain[0]:.2f}x / {by_rare[0] / plain[0]:.2f}x the plain list; "
          f"opening with the tools {tools[0] / alone[0]:.2f}x the transcript alone, a live refresh "
          f"{refresh[0] / alone[0]:.2f}x")

    from chatai.cache import get_redis

    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(presence.TOOLS_EVENTS_CHANNEL)
    user, dialog = uuid.uuid4(), dialog_ids[0]
    times = []
    for _ in range(KEYSTROKES):
        started = time.perf_counter()
        await presence.publish_typing(dialog_id=dialog, owner_id=owner, user_id=user, who="bench")
        times.append((time.perf_counter() - started) * 1000)
    published, deadline = 0, time.monotonic() + 2.0  # the publish is synchronous: all have arrived by then
    while time.monotonic() < deadline:
        if await pubsub.get_message(timeout=0.2) is not None:  # None also for the subscribe confirmation
            published += 1
    await pubsub.aclose()
    print(f"typing: {KEYSTROKES} keystroke events in one throttle window -> {published} publish(es); "
          f"per keystroke p50 {percentile(times, 50):.2f} ms, p95 {percentile(times, 95):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogs", type=int, default=30_000)
    args = parser.parse_args()
    with bench_database("inbox_tools") as url:
        owner = _seed(url, args.dialogs)
        _seed_tools(url, owner)
        from chatai.cli_support import run_async

        run_async(_measure(owner))


if __name__ == "__main__":
    main()
