"""CPU and memory per process group, sampled with psutil in a thread while a bench step runs.

CPU is the sum of user+system time each group's processes used between samples, as a percentage of one
core over the window (a process that ends between two samples loses at most one interval). Memory is the
group's RSS summed over its processes, mean and peak over the samples; for groups marked `pss` (PostgreSQL:
every backend maps the same shared buffers; chromium) the proportional set size is summed instead, so shared
pages count once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

# Processes mapping the same pages: PostgreSQL's backends (shared buffers), chromium's (shared libraries and
# memory shared between the browser, GPU and renderer processes).
PSS_GROUPS = ("postgres", "browser (playwright, chromium)")
Groups = Callable[[], dict[str, list[psutil.Process]]]


@dataclass
class GroupFigures:
    cpu_seconds: float = 0.0
    memory: list[float] = field(default_factory=list)
    processes: int = 0


class ProcessSampler:
    def __init__(self, groups: Groups, *, interval: float = 1.0, pss_groups: tuple[str, ...] = PSS_GROUPS) -> None:
        self.groups = groups
        self.interval = interval
        self.pss_groups = pss_groups
        self.figures: dict[str, GroupFigures] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = self.stopped = 0.0
        self._machine = psutil.cpu_times()
        self.machine: dict[str, float] = {}

    def start(self) -> ProcessSampler:
        self.figures.clear()
        self._last.clear()
        self._stop.clear()
        self._sample(count=False)
        self.started = time.monotonic()
        self._machine = psutil.cpu_times()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._sample(count=True)
        self.stopped = time.monotonic()
        wall = max(1e-6, self.stopped - self.started)
        machine = psutil.cpu_times()
        idle = _idle(machine) - _idle(self._machine)
        total = sum(machine) - sum(self._machine)
        # The whole machine, in % of one core (2 cores = 200%), and the load average at the end: other work on a
        # shared machine competes for the same cores.
        self.machine = {"busy_pct": 100 * psutil.cpu_count() * (1 - idle / total) if total > 0 else 0.0,
                        "load1": psutil.getloadavg()[0]}
        return {label: {"cpu_pct": 100 * f.cpu_seconds / wall,
                        "mem_mb_mean": (sum(f.memory) / len(f.memory) / 1048576) if f.memory else 0.0,
                        "mem_mb_max": (max(f.memory) / 1048576) if f.memory else 0.0,
                        "processes": f.processes}
                for label, f in self.figures.items()}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(count=True)

    def _sample(self, *, count: bool) -> None:
        for label, processes in self.groups().items():
            figures = self.figures.setdefault(label, GroupFigures())
            memory = 0.0
            alive = 0
            for proc in processes:
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        used = times.user + times.system
                        memory += (proc.memory_full_info().pss if label in self.pss_groups
                                   else proc.memory_info().rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                alive += 1
                # A process first seen mid-window counts from its first sample (its start-up is not load).
                before = self._last.get(proc.pid, used)
                self._last[proc.pid] = used
                if count:
                    figures.cpu_seconds += max(0.0, used - before)
            if count:
                figures.memory.append(memory)
                figures.processes = max(figures.processes, alive)


def _idle(times: object) -> float:
    return times.idle + getattr(times, "iowait", 0.0)  # type: ignore[attr-defined]


def descendants(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (none when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
