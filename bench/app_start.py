"""Seconds from start to the first page served (`GET /` answers 200), production mode, one port.

    .venv/bin/python -m bench.app_start [--rounds 2]

Per round, one after another on the same free port and the same throwaway database (so the same machine
load reaches every kind):
- before: `reflex run --env prod`, what `app run` started until issue 23 (compiles and builds every time);
- build: chatai/web/serve_prod.py when the build's inputs changed (compile + build, then serve);
- reuse: chatai/web/serve_prod.py on an unchanged checkout (serves the previous build);
- app run: the whole `python -m chatai app run` on an unchanged checkout (with its migrations check and
  admin check), what `make run` costs the second time.
Medians per kind, and reuse/before and app run/before from the same run; load average beside.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import bench_database

KINDS = ("before", "build", "reuse", "app run")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seconds_to_serve(command: list[str], env: dict[str, str], port: int, log: Path) -> tuple[float, str]:
    from chatai.settings import PROJECT_ROOT

    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - start > 600:
                raise RuntimeError(f"{command} did not serve in 600 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        seconds = time.perf_counter() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return seconds, log.read_text()


def _run(rounds: int) -> None:
    from chatai.cli.app import reflex_environment
    from chatai.settings import PROJECT_ROOT, get_settings
    from chatai.web import build_fingerprint

    with bench_database("app_start"):
        port = _free_port()
        get_settings.cache_clear()
        env = {**reflex_environment(), "PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}",
               "HOST": "127.0.0.1", "GRANIAN_WORKERS": "1"}
        web_dir = Path(os.environ.get("REFLEX_WEB_WORKDIR", PROJECT_ROOT / ".web"))
        commands = {
            "before": [sys.executable, "-m", "reflex", "run", "--env", "prod", "--loglevel", "warning",
                       "--backend-host", "127.0.0.1"],
            "build": [sys.executable, "-m", "chatai.web.serve_prod"],
            "reuse": [sys.executable, "-m", "chatai.web.serve_prod"],
            "app run": [sys.executable, "-m", "chatai", "app", "run"],
        }
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        with tempfile.TemporaryDirectory() as logs:
            for round_ in range(rounds):
                for kind in KINDS:
                    if kind == "build":
                        build_fingerprint.forget(web_dir)
                    seconds, output = _seconds_to_serve(commands[kind], env, port, Path(logs) / f"{kind}.log")
                    built = "Creating Production Build" in output
                    if built != (kind in ("before", "build")):
                        raise RuntimeError(f"{kind}: expected {'a' if not built else 'no'} build:\n{output[-3000:]}")
                    times[kind].append(seconds)
                    print(f"round {round_ + 1} {kind:8s} {seconds:6.1f} s  (load {os.getloadavg()[0]:.2f})",
                          flush=True)
        medians = {kind: statistics.median(values) for kind, values in times.items()}
        print("\nmedian seconds to the first page served (production, one port):")
        for kind in KINDS:
            print(f"  {kind:8s} {medians[kind]:6.1f} s  ({', '.join(f'{v:.1f}' for v in times[kind])})")
        print(f"  reuse / before   {medians['reuse'] / medians['before']:.2f}")
        print(f"  app run / before {medians['app run'] / medians['before']:.2f}")
        print(f"  load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    _run(parser.parse_args().rounds)


if __name__ == "__main__":
    main()
