"""What showing times and money in the owner's terms costs a page (chatai/formatting.py): per row, against
the UTC strftime and `250.00 RUB` it replaced, measured in one run (ratios) on the same timestamps and amounts.
A page formats at most a few hundred rows (inbox list 200 live rows, ledger page, admin tables).

    .venv/bin/python -m bench owner_terms          # ~2 s
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from chatai.formatting import format_money, format_time
from chatai.services.billing import format_amount

ROWS = 20_000
REPEATS = 5


def _best(fn) -> float:
    """Seconds per row, best of REPEATS (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best / ROWS


def main() -> None:
    rng = random.Random(23)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = [start + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(ROWS)]
    amounts = [rng.randrange(-10**9, 10**11) for _ in range(ROWS)]

    old_time = _best(lambda: [s.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for s in stamps])
    new_time = _best(lambda: [format_time(s, "Europe/Moscow") for s in stamps])
    old_money = _best(lambda: [f"{format_amount(a)} RUB" for a in amounts])
    new_money_ru = _best(lambda: [format_money(a, "RUB", "ru") for a in amounts])
    new_money_en = _best(lambda: [format_money(a, "RUB", "en") for a in amounts])
    print(f"time  UTC strftime {old_time * 1e6:.2f} us/row, owner's zone {new_time * 1e6:.2f} us/row "
          f"({new_time / old_time:.2f}x)")
    print(f"money '250.00 RUB' {old_money * 1e6:.2f} us/row, ru {new_money_ru * 1e6:.2f} us/row "
          f"({new_money_ru / old_money:.2f}x), en {new_money_en * 1e6:.2f} us/row ({new_money_en / old_money:.2f}x)")
    page = 200 * (new_time + new_money_ru)
    print(f"a 200-row page (one time and one amount per row): {page * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
