"""A CPU hog to run beside a benchmark: `cores` cores kept busy by separate processes (a share of one core
each: busy for that share of every 20 ms, asleep for the rest), as another job on a shared machine would.

    .venv/bin/python -m bench.cpu_hog 0.75     # one process, 75% of a core, until killed
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

PERIOD = 0.02


def burn(share: float) -> None:
    """Forever: busy for `share` of every PERIOD."""
    while True:
        start = time.perf_counter()
        while time.perf_counter() - start < share * PERIOD:
            pass
        if share < 1:
            time.sleep(PERIOD * (1 - share))


def start(cores: float) -> list[subprocess.Popen]:
    """Processes that together keep `cores` cores busy (stop them with stop())."""
    if cores <= 0:
        return []
    n = math.ceil(cores)
    return [subprocess.Popen([sys.executable, "-m", "bench.cpu_hog", str(cores / n)]) for _ in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(10)


if __name__ == "__main__":
    burn(float(sys.argv[1]))
